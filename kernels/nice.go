package kernels

import (
	"fmt"
	"runtime"
	"sync/atomic"
)

// Compute at a lower OS priority than request handling.
//
// A server that runs forward passes on every core and answers requests in
// the same process wants the requests (accepting, refusing with 429,
// decoding) to get a core the moment they arrive, not when the kernel's
// threads have used up their time slice. SetComputeNice runs the helper
// goroutines of the parallel kernels on threads of their own at a higher
// nice value (lower priority), and LockComputeThread does the same for the
// goroutine that calls the kernels; the process then needs one P more than
// Workers (GOMAXPROCS) for the rest of its goroutines to run on. The OS
// scheduler then preempts the compute threads as soon as a request's
// thread wakes, and the compute threads have the cores to themselves
// otherwise. Linux only (setpriority on a thread); elsewhere both return
// an error.

// computeNice is the nice value helpers run at (0: as the process).
var computeNice atomic.Int32

// SetComputeNice makes the helper goroutines of parallel kernels run on
// locked threads at the given nice value (0 to 19; 0 restores the
// process's priority), from their next task on.
func SetComputeNice(nice int) error {
	if nice < 0 || nice > 19 {
		return fmt.Errorf("compute nice %d: want 0 to 19 (a higher value is a lower priority)", nice)
	}
	if err := niceSupported(); err != nil {
		return err
	}
	computeNice.Store(int32(nice))
	return nil
}

// LockComputeThread locks the calling goroutine to its thread and sets the
// thread's nice value, for a goroutine that runs forward passes; the
// returned function restores the nice value and unlocks the thread, or,
// where the old priority cannot be restored (that may need privilege),
// leaves it locked, so that the thread ends with its goroutine instead of
// running others at the lower priority.
func LockComputeThread(nice int) (unlock func(), err error) {
	if nice < 0 || nice > 19 {
		return nil, fmt.Errorf("compute nice %d: want 0 to 19 (a higher value is a lower priority)", nice)
	}
	runtime.LockOSThread()
	old, err := threadNice()
	if err == nil {
		err = setThreadNice(nice)
	}
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	return func() {
		if setThreadNice(old) == nil {
			runtime.UnlockOSThread()
		}
	}, nil
}

// adoptNice is called by a helper before each task: it moves the helper
// to a locked thread at computeNice when that changed. applied is the
// helper's current value (−1: never set).
func adoptNice(applied *int32) {
	want := computeNice.Load()
	if want == *applied || (*applied < 0 && want == 0) {
		return
	}
	if *applied < 0 {
		runtime.LockOSThread() // for good: the helper lives as long as the process
	}
	if setThreadNice(int(want)) == nil {
		*applied = want
	}
}

// spinYield is what a spinning wait does now and then: let other
// goroutines run. Not while compute threads are locked at a lower
// priority: a locked goroutine's Gosched hands its P to another thread
// and back (two thread wake-ups), and the OS already gives the core to
// any thread of higher priority that wants it.
func spinYield() {
	if computeNice.Load() == 0 {
		runtime.Gosched()
	}
}
