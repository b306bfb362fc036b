package kernels

const (
	invSqrt2   = 0.70710678118654752
	invSqrt2Pi = 0.39894228040143268
)

// Gelu computes y = x·Φ(x) elementwise, the exact (erf) GELU of ViT:
// Φ(x) = (1 + erf(x/√2))/2. x and y have the same length and may be the
// same slice. Runs on the worker pool.
func Gelu(y, x []float32) {
	ParallelFor(len(x), 16384, func(lo, hi int) { geluSerial(y[lo:hi], x[lo:hi]) })
}

// geluSerial is Gelu on the calling goroutine. With the assembly path,
// every value takes it, a last partial group of 8 through a padded copy, so
// that each value's bits do not depend on how x was split into chunks.
func geluSerial(y, x []float32) {
	if !useAVX2Act {
		geluGo(y[:len(x)], x)
		return
	}
	n := len(x) &^ 7
	if n > 0 {
		geluAVX2(&y[0], &x[0], n)
	}
	if tail := len(x) - n; tail > 0 {
		var xb, yb [8]float32
		copy(xb[:], x[n:])
		geluAVX2(&yb[0], &xb[0], 8)
		copy(y[n:len(x)], yb[:tail])
	}
}

// GeluBackward computes dx = dy·GELU'(x), with GELU'(x) = Φ(x) + x·φ(x) and x
// the forward input. dx may alias dy. Runs on the worker pool.
func GeluBackward(dx, dy, x []float32) {
	ParallelFor(len(x), 16384, func(lo, hi int) { geluBackwardSerial(dx[lo:hi], dy[lo:hi], x[lo:hi]) })
}

// geluBackwardSerial is GeluBackward on the calling goroutine; like
// geluSerial, every value takes the assembly path when there is one.
func geluBackwardSerial(dx, dy, x []float32) {
	if !useAVX2Act {
		geluBackwardGo(dx[:len(x)], dy[:len(x)], x)
		return
	}
	n := len(x) &^ 7
	if n > 0 {
		geluBackwardAVX2(&dx[0], &dy[0], &x[0], n)
	}
	if tail := len(x) - n; tail > 0 {
		var xb, dyb, dxb [8]float32
		copy(xb[:], x[n:])
		copy(dyb[:], dy[n:len(x)])
		geluBackwardAVX2(&dxb[0], &dyb[0], &xb[0], 8)
		copy(dx[n:len(x)], dxb[:tail])
	}
}

func geluGo(y, x []float32) {
	for i, v := range x {
		y[i] = 0.5 * v * (1 + Erf(v*invSqrt2))
	}
}

func geluBackwardGo(dx, dy, x []float32) {
	for i, v := range x {
		cdf := 0.5 * (1 + Erf(v*invSqrt2))
		pdf := invSqrt2Pi * Exp(-0.5*v*v)
		dx[i] = dy[i] * (cdf + v*pdf)
	}
}

// SoftmaxRows replaces each row of x: [rows, cols] by its softmax,
// computed stably (the row maximum is subtracted first). Single-threaded:
// callers parallelise over independent rows or heads. -Inf entries (masked
// scores) become 0; a row needs at least one finite entry.
func SoftmaxRows(x []float32, rows, cols int) {
	if rows <= 0 {
		return
	}
	if useAVX2Act {
		_ = x[rows*cols-1] // the assembly touches exactly x[:rows*cols]; cols ≥ 1
		softmaxRowsAVX2(&x[0], rows, cols)
		return
	}
	softmaxRowsGo(x, rows, cols)
}

func softmaxRowsGo(x []float32, rows, cols int) {
	for r := 0; r < rows; r++ {
		row := x[r*cols : (r+1)*cols]
		m := row[0]
		for _, v := range row[1:] {
			m = max(m, v)
		}
		for j, v := range row {
			row[j] = Exp(v - m)
		}
		inv := 1 / Sum(row) // eight partial sums, as in the assembly: more accurate than one
		for j := range row {
			row[j] *= inv
		}
	}
}

// SoftmaxBackwardRows is the backward pass of SoftmaxRows followed by a
// scaling: dp: [rows, cols], the gradient with respect to the softmax
// output p: [rows, cols], is replaced, in place, by
// scale · p ⊙ (dp − Σ_j dp_j·p_j), row by row. Single-threaded like
// SoftmaxRows.
func SoftmaxBackwardRows(dp, p []float32, rows, cols int, scale float32) {
	if rows <= 0 || cols <= 0 {
		return
	}
	if useAVX2Act {
		_, _ = dp[rows*cols-1], p[rows*cols-1]
		softmaxBackwardAVX2(&dp[0], &p[0], rows, cols, scale)
		return
	}
	softmaxBackwardRowsGo(dp, p, rows, cols, scale)
}

func softmaxBackwardRowsGo(dp, p []float32, rows, cols int, scale float32) {
	for r := 0; r < rows; r++ {
		dr, pr := dp[r*cols:(r+1)*cols], p[r*cols:(r+1)*cols]
		dot := Dot(dr, pr)
		for j, v := range dr {
			dr[j] = scale * pr[j] * (v - dot)
		}
	}
}

// AddTo adds src to dst elementwise: dst[i] += src[i] (len(src) ≥ len(dst)).
func AddTo(dst, src []float32) {
	n := 0
	if useAVX2Act {
		n = len(dst) &^ 7
		if n > 0 {
			addToAVX2(&dst[0], &src[0], n)
		}
	}
	src = src[:len(dst)]
	for i := n; i < len(dst); i++ {
		dst[i] += src[i]
	}
}

// AddRowVector adds b: [cols] to every row of y: [rows, cols], on the worker
// pool.
func AddRowVector(y, b []float32, rows int) {
	cols := len(b)
	ParallelFor(rows, max(1, 8192/max(cols, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			AddTo(y[r*cols:(r+1)*cols], b)
		}
	})
}

// ColumnSums adds the column sums of x: [rows, len(sum)] to sum, on the
// worker pool (each worker sums its rows into its own partial, and the
// partials are added in a fixed order, so results do not depend on
// scheduling). scratch must hold Workers·len(sum) floats.
func ColumnSums(sum, x []float32, rows int, scratch []float32) {
	cols := len(sum)
	chunks := min(Parallelism(), max(1, rows/64))
	per := (rows + chunks - 1) / chunks
	part := scratch[:chunks*cols]
	clear(part)
	ParallelFor(chunks, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			p := part[ch*cols : (ch+1)*cols]
			for r := ch * per; r < min(rows, (ch+1)*per); r++ {
				AddTo(p, x[r*cols:(r+1)*cols])
			}
		}
	})
	for ch := range chunks {
		AddTo(sum, part[ch*cols:(ch+1)*cols])
	}
}

// ExpAffine sets x[i] = scale·exp(x[i] − shift) + add for every i, with
// Exp's accuracy (exp of inputs below −87.3 is 0). Single-threaded.
func ExpAffine(x []float32, shift, scale, add float32) {
	n := 0
	if useAVX2Act {
		n = len(x) &^ 7
		if n > 0 {
			expAffineAVX2(&x[0], n, shift, scale, add)
		}
	}
	for i := n; i < len(x); i++ {
		x[i] = scale*Exp(x[i]-shift) + add
	}
}
