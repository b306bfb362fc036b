package kernels

import "fmt"

// Epilogue is elementwise work that a product applies to its result C
// block by block, while each block is still in cache, instead of in passes
// over all of C afterwards. Every field is optional (nil skips the step).
// On each value c of C, at row i and column j, the steps run in this order:
//
//	c += Bias[j]
//	c += Add[i·ldc + j]                 a residual, laid out like C
//	GELU[i·ldc + j] = GELU(c)           C keeps c, the pre-activation
//	c *= GELU'(GELUInput[i·ldc + j])    the backward of a GELU whose input was GELUInput
//
// With Gate set (Gate.K ≠ 0) the two GELU steps compute that gate instead
// of the exact GELU: QuickGELU, tanh-GELU or SiLU (GateForward,
// GateBackward). Each value goes through the same operations as in the
// separate passes (AddRowVector, AddTo, Gelu or GateForward, GeluBackward or
// GateBackward): the results are theirs, bit for bit.
type Epilogue struct {
	Bias      []float32 // [n]
	Add       []float32 // like C: [m, ldc]
	GELU      []float32 // like C: [m, ldc]
	GELUInput []float32 // like C: [m, ldc]
	Gate      Gate      // the activation of the GELU steps; zero: the exact GELU
}

// check panics unless e's slices fit an m×n result with row stride ldc.
func (e *Epilogue) check(fn string, m, n, ldc int) {
	if e.Bias != nil && len(e.Bias) < n {
		panic(fmt.Sprintf("kernels: %s epilogue Bias has %d values, want %d", fn, len(e.Bias), n))
	}
	for _, x := range []struct {
		name string
		v    []float32
	}{{"epilogue Add", e.Add}, {"epilogue GELU", e.GELU}, {"epilogue GELUInput", e.GELUInput}} {
		if x.v != nil {
			checkMat(fn, x.name, x.v, m, n, ldc)
		}
	}
}

// apply runs the epilogue on C[r0:r1, c0:c1] (row stride ldc), on the
// calling goroutine.
func (e *Epilogue) apply(c []float32, ldc, r0, r1, c0, c1 int) {
	for i := r0; i < r1; i++ {
		lo, hi := i*ldc+c0, i*ldc+c1
		row := c[lo:hi]
		if e.Bias != nil {
			AddTo(row, e.Bias[c0:c1])
		}
		if e.Add != nil {
			AddTo(row, e.Add[lo:hi])
		}
		if e.GELU != nil {
			if e.Gate.K != 0 {
				gateSerial(e.GELU[lo:hi], row, e.Gate)
			} else {
				geluSerial(e.GELU[lo:hi], row)
			}
		}
		if e.GELUInput != nil {
			if e.Gate.K != 0 {
				gateBackwardSerial(row, row, e.GELUInput[lo:hi], e.Gate)
			} else {
				geluBackwardSerial(row, row, e.GELUInput[lo:hi])
			}
		}
	}
}

// applyAll runs e on all of an m×n C, on the worker pool. e is a copy:
// the closure that captures it is allocated here, on this rare path, not
// in the callers.
func applyAll(e Epilogue, c []float32, ldc, m, n int) {
	if e.empty() {
		return
	}
	ParallelFor(m, max(1, 8192/max(n, 1)), func(lo, hi int) { e.apply(c, ldc, lo, hi, 0, n) })
}

// empty reports whether e has no steps.
func (e *Epilogue) empty() bool {
	return e.Bias == nil && e.Add == nil && e.GELU == nil && e.GELUInput == nil
}

// SgemmEpilogue is Sgemm followed by the epilogue e on C, which runs on
// each block of C as soon as its product is done. Like Sgemm it allocates
// nothing in steady state.
func SgemmEpilogue(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, e Epilogue) {
	sgemmEpilogue(kernel, Parallelism(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, e)
}

// GemmPackedEpilogue is GemmPacked followed by the epilogue e on C, which
// runs on each block of C as soon as its product is done.
func GemmPackedEpilogue(m int, alpha float32, a []float32, lda int, p *PackedB, beta float32, c []float32, ldc int, e Epilogue) {
	gemmPackedEpilogue(Parallelism(), m, alpha, a, lda, p, beta, c, ldc, e)
}
