package kernels

import (
	"sync"
	"sync/atomic"
	"time"
)

// The helper pool: long-lived goroutines that run the parts of parallel
// kernels, so that a parallel call starts no goroutine and allocates
// nothing.
//
// A caller reserves idle helpers (reserveHelpers) and so learns how many
// workers it really has before it splits the work: a call made while the
// helpers are busy (a nested or concurrent call) runs on fewer workers, or
// on the caller alone, and never waits for a helper. After a task a helper
// polls its mailbox for helperSpin before it parks, because waking a parked
// thread costs tens of microseconds on a virtual machine.

// helperSpin is how long an idle helper polls for work before it parks.
const helperSpin = 200 * time.Microsecond

// helperTask is one part of a parallel call: part w of a GEMM job, or the
// range [lo, hi) of a ParallelFor.
type helperTask struct {
	job    *gemmJob
	w      int
	f      func(lo, hi int)
	lo, hi int
	done   *atomicInt
}

type helper struct {
	idle atomic.Bool
	ch   chan helperTask // mailbox, capacity 1
}

var (
	helperMu sync.Mutex
	helpers  atomic.Pointer[[]*helper]
)

// reserveHelpers reserves up to n idle helpers into dst and returns how many
// it got (none while a Partition runs). Each reserved helper must be sent
// exactly one task.
func reserveHelpers(dst []*helper, n int) int {
	n = min(n, len(dst))
	if n <= 0 || partitions.Load() > 0 {
		return 0
	}
	hs := helpers.Load()
	if hs == nil || len(*hs) < n {
		hs = startHelpers(n)
	}
	got := 0
	for _, h := range *hs {
		if got == n {
			break
		}
		if h.idle.Load() && h.idle.CompareAndSwap(true, false) {
			dst[got] = h
			got++
		}
	}
	return got
}

// startHelpers makes sure at least n helpers exist and returns them all.
func startHelpers(n int) *[]*helper {
	helperMu.Lock()
	defer helperMu.Unlock()
	hs := helpers.Load()
	if hs != nil && len(*hs) >= n {
		return hs
	}
	var list []*helper
	if hs != nil {
		list = append(list, *hs...)
	}
	for len(list) < n {
		h := &helper{ch: make(chan helperTask, 1)}
		h.idle.Store(true)
		go h.loop()
		list = append(list, h)
	}
	helpers.Store(&list)
	return &list
}

func (h *helper) loop() {
	nice := int32(-1) // the nice value this helper's thread has, −1: the process's
	for {
		t, ok := h.poll()
		if !ok {
			t = <-h.ch
		}
		adoptNice(&nice)
		done := t.done
		if t.job != nil {
			t.job.run(t.w)
		} else if t.lo < t.hi {
			t.f(t.lo, t.hi)
		}
		h.idle.Store(true)
		done.Add(-1)
	}
}

// poll waits up to helperSpin for a task without parking the thread.
func (h *helper) poll() (helperTask, bool) {
	var start time.Time
	for i := 0; ; i++ {
		select {
		case t := <-h.ch:
			return t, true
		default:
		}
		if i&63 == 63 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > helperSpin {
				return helperTask{}, false
			}
			spinYield()
		}
	}
}

// atomicInt counts the outstanding parts of a parallel call.
type atomicInt struct{ atomic.Int32 }

// waitZero spins until the count reaches zero, yielding the processor now
// and then so an oversubscribed machine still makes progress.
func (a *atomicInt) waitZero() {
	for spins := 0; a.Load() != 0; spins++ {
		if spins > 200 {
			spinYield()
		}
	}
}
