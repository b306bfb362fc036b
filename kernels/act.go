package kernels

const (
	invSqrt2   = 0.70710678118654752
	invSqrt2Pi = 0.39894228040143268
)

// Gelu computes y = x·Φ(x) elementwise, the exact (erf) GELU of ViT:
// Φ(x) = (1 + erf(x/√2))/2. x and y have the same length and may be the
// same slice. Runs on the worker pool.
func Gelu(y, x []float32) {
	ParallelFor(len(x), 16384, func(lo, hi int) {
		n := 0
		if useAVX2Act {
			n = (hi - lo) &^ 7
			if n > 0 {
				geluAVX2(&y[lo], &x[lo], n)
			}
		}
		geluGo(y[lo+n:hi], x[lo+n:hi])
	})
}

// GeluBackward computes dx = dy·GELU'(x), with GELU'(x) = Φ(x) + x·φ(x) and x
// the forward input. dx may alias dy. Runs on the worker pool.
func GeluBackward(dx, dy, x []float32) {
	ParallelFor(len(x), 16384, func(lo, hi int) {
		n := 0
		if useAVX2Act {
			n = (hi - lo) &^ 7
			if n > 0 {
				geluBackwardAVX2(&dx[lo], &dy[lo], &x[lo], n)
			}
		}
		geluBackwardGo(dx[lo+n:hi], dy[lo+n:hi], x[lo+n:hi])
	})
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
// callers parallelise over independent rows or heads.
func SoftmaxRows(x []float32, rows, cols int) {
	for r := 0; r < rows; r++ {
		row := x[r*cols : (r+1)*cols]
		m := row[0]
		for _, v := range row[1:] {
			m = max(m, v)
		}
		var s float32
		n := 0
		if useAVX2Act {
			n = cols &^ 7
			if n > 0 {
				s = expShiftSumAVX2(&row[0], &row[0], n, m)
			}
		}
		for j := n; j < cols; j++ {
			e := Exp(row[j] - m)
			row[j] = e
			s += e
		}
		inv := 1 / s
		for j := range row {
			row[j] *= inv
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
	chunks := min(Workers, max(1, rows/64))
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
