package kernels

import (
	"runtime"
	"sync"
)

// Workers is the number of goroutines parallel kernels use (GOMAXPROCS at start).
var Workers = runtime.GOMAXPROCS(0)

// maxWorkers bounds Workers for the fixed-size helper lists below.
const maxWorkers = 256

// pforState is the bookkeeping of one ParallelFor call, pooled.
type pforState struct {
	pending atomicInt
	helpers [maxWorkers - 1]*helper
}

var pforPool = sync.Pool{New: func() any { return new(pforState) }}

// ParallelFor calls f(lo, hi) over disjoint chunks covering [0, n), using up to
// Workers goroutines (the caller's included), and returns when all are done.
// grain is the smallest chunk worth a goroutine. Chunks go to idle helper
// goroutines; when none is idle (a nested or concurrent call) the caller runs
// f over everything itself.
func ParallelFor(n, grain int, f func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	w := min(Parallelism(), maxWorkers, (n+grain-1)/grain)
	if w <= 1 {
		f(0, n)
		return
	}
	s := pforPool.Get().(*pforState)
	w = 1 + reserveHelpers(s.helpers[:], w-1)
	if w == 1 {
		pforPool.Put(s)
		f(0, n)
		return
	}
	chunk := (n + w - 1) / w
	s.pending.Store(int32(w - 1))
	for i := 1; i < w; i++ {
		s.helpers[i-1].ch <- helperTask{f: f, lo: min(i*chunk, n), hi: min((i+1)*chunk, n), done: &s.pending}
		s.helpers[i-1] = nil
	}
	f(0, min(chunk, n))
	s.pending.waitZero()
	pforPool.Put(s)
}
