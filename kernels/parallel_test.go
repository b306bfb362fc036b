package kernels

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

func TestParallelFor(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 100, 1001} {
		for _, grain := range []int{0, 1, 3, 64, 5000} {
			hits := make([]int32, n)
			ParallelFor(n, grain, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					atomic.AddInt32(&hits[i], 1)
				}
			})
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("n=%d grain=%d: index %d covered %d times", n, grain, i, h)
				}
			}
		}
	}
}

// TestNestedParallel runs parallel calls inside parallel calls: a helper
// busy with an outer chunk must never be waited for by an inner call.
func TestNestedParallel(t *testing.T) {
	defer func(old int) { parallelMinFlop = old }(parallelMinFlop)
	parallelMinFlop = 0
	var mu sync.Mutex
	ParallelFor(4, 1, func(lo, hi int) {
		for g := lo; g < hi; g++ {
			r := rand.New(rand.NewPCG(uint64(g), 7))
			var inner atomic.Int32
			ParallelFor(10, 1, func(lo, hi int) { inner.Add(int32(hi - lo)) })
			if inner.Load() != 10 {
				t.Errorf("inner ParallelFor covered %d of 10", inner.Load())
			}
			mu.Lock() // checkCase may call t.Fatalf
			checkCase(t, r, kernel, Workers, gemmCase{transA: g%2 == 0, m: 70, n: 90, k: 40, alpha: 1, beta: 1})
			mu.Unlock()
		}
	})
}
