package kernels

import (
	"runtime"
	"sync"
)

// Workers is the number of goroutines parallel kernels use (GOMAXPROCS at start).
var Workers = runtime.GOMAXPROCS(0)

// ParallelFor calls f(lo, hi) over disjoint chunks covering [0, n), using up to
// Workers goroutines (the caller's included), and returns when all are done.
// grain is the smallest chunk worth a goroutine.
func ParallelFor(n, grain int, f func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	w := Workers
	if m := (n + grain - 1) / grain; m < w {
		w = m
	}
	if w <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + w - 1) / w
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			f(lo, hi)
		}(lo, hi)
	}
	f(0, min(chunk, n))
	wg.Wait()
}
