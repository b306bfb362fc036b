package kernels

import (
	"sync"
	"sync/atomic"
)

// partitions counts the Partition calls in progress. While one runs, every
// parallel kernel runs on its calling goroutine alone.
var partitions atomic.Int32

// Partition runs f(0), …, f(n−1), spread over up to Workers goroutines (the
// caller's included), and returns when all are done. It is for work that is
// parallel at a coarser grain than one kernel call, such as replicas of a
// model each training on its own part of a batch.
//
// While a Partition runs, every kernel call, in any goroutine, runs on its
// caller alone instead of splitting its work among the helpers (Parallelism
// is 1). So each part gets a core to itself, and the kernels a part calls
// compute exactly what they compute with Workers = 1, whichever goroutine
// runs the part. Parts beyond the number of workers run one after another
// on the same goroutines. Partition allocates nothing in steady state.
func Partition(n int, f func(part int)) {
	if n <= 0 {
		return
	}
	s := partitionPool.Get().(*partitionState)
	w := 1 + reserveHelpers(s.helpers[:], min(n, Workers, maxWorkers)-1)
	partitions.Add(1)
	s.f, s.n, s.w = f, n, w
	s.pending.Store(int32(w - 1))
	for i := 1; i < w; i++ {
		s.helpers[i-1].ch <- helperTask{f: s.run, lo: i, hi: i + 1, done: &s.pending}
		s.helpers[i-1] = nil
	}
	s.run(0, 1)
	s.pending.waitZero()
	partitions.Add(-1)
	s.f = nil
	partitionPool.Put(s)
}

// partitionState is the bookkeeping of one Partition call, pooled.
type partitionState struct {
	f       func(part int)
	n, w    int
	run     func(first, _ int) // runParts, made once
	pending atomicInt
	helpers [maxWorkers - 1]*helper
}

var partitionPool = sync.Pool{New: func() any {
	s := new(partitionState)
	s.run = s.runParts
	return s
}}

// runParts runs the parts first, first+w, first+2w, … of the call.
func (s *partitionState) runParts(first, _ int) {
	for p := first; p < s.n; p += s.w {
		s.f(p)
	}
}

// Parallelism is the number of workers a kernel called now may split its
// work among: Workers, or 1 while a Partition runs. Code that sizes its own
// parallel chunks (per-chunk partial sums) should ask it rather than read
// Workers.
func Parallelism() int {
	if partitions.Load() > 0 {
		return 1
	}
	return Workers
}
