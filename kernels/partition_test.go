package kernels

import (
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
)

func TestPartitionRunsEveryPartOnce(t *testing.T) {
	for _, workers := range []int{1, 2, 3} {
		for _, n := range []int{0, 1, 2, 3, 7, 300} {
			func() {
				defer func(old int) { Workers = old }(Workers)
				Workers = workers
				hits := make([]int32, n)
				Partition(n, func(p int) { atomic.AddInt32(&hits[p], 1) })
				for p, h := range hits {
					if h != 1 {
						t.Fatalf("Workers=%d n=%d: part %d ran %d times", workers, n, p, h)
					}
				}
			}()
		}
	}
}

// TestPartitionKernelsRunSerially checks that kernels called inside a
// Partition compute what they compute on one worker, bit for bit, whichever
// goroutine runs the part: a deep product's result depends on how its k
// range is split among workers, so any helper joining in would show.
func TestPartitionKernelsRunSerially(t *testing.T) {
	defer func(old, oldMin int) { Workers, parallelMinFlop = old, oldMin }(Workers, parallelMinFlop)
	Workers, parallelMinFlop = 4, 0
	r := rand.New(rand.NewPCG(3, 4))
	m, n, k := 24, 40, 3000 // a weight-gradient shape: k ≫ m, n
	a, lda, b, ldb := randOperands(r, true, false, m, n, k, 0)
	want := make([]float32, m*n)
	SgemmSerial(true, false, m, n, k, 1, a, lda, b, ldb, 0, want, n)
	parallel := make([]float32, m*n)
	Sgemm(true, false, m, n, k, 1, a, lda, b, ldb, 0, parallel, n)
	if slices.Equal(parallel, want) {
		t.Log("the parallel product matches the serial one here; the check below is weaker")
	}

	const parts = 6
	got := make([][]float32, parts)
	chunks := make([]int, parts)
	Partition(parts, func(p int) {
		got[p] = make([]float32, m*n)
		Sgemm(true, false, m, n, k, 1, a, lda, b, ldb, 0, got[p], n)
		ParallelFor(1000, 1, func(lo, hi int) { chunks[p]++ })
	})
	for p := range parts {
		if !slices.Equal(got[p], want) {
			t.Errorf("part %d: Sgemm inside Partition differs from SgemmSerial", p)
		}
		if chunks[p] != 1 {
			t.Errorf("part %d: ParallelFor inside Partition split into %d chunks, want 1", p, chunks[p])
		}
	}
	// Kernels split their work again once the Partition is over.
	var calls atomic.Int32
	ParallelFor(1000, 1, func(lo, hi int) { calls.Add(1) })
	if calls.Load() < 2 {
		t.Errorf("after Partition, ParallelFor ran in %d chunk(s), want several", calls.Load())
	}
}
