package nn

import "github.com/vitgo/vit/kernels"

const (
	invSqrt2   = 0.70710678118654752
	invSqrt2Pi = 0.39894228040143268
)

// GELU computes y = x·Φ(x) elementwise with the exact (erf) form used by
// ViT: Φ(x) = (1 + erf(x/√2))/2. x and y: [n] and may be the same slice.
func GELU(y, x []float32) {
	kernels.ParallelFor(len(x), 8192, func(lo, hi int) {
		xs, ys := x[lo:hi], y[lo:hi]
		for i, v := range xs {
			ys[i] = 0.5 * v * (1 + Erf(v*invSqrt2))
		}
	})
}

// GELUBackward computes dx = dy·GELU'(x) with GELU'(x) = Φ(x) + x·φ(x),
// where x is the forward input. dx may alias dy.
func GELUBackward(dx, dy, x []float32) {
	kernels.ParallelFor(len(x), 8192, func(lo, hi int) {
		xs, dys, dxs := x[lo:hi], dy[lo:hi], dx[lo:hi]
		for i, v := range xs {
			cdf := 0.5 * (1 + Erf(v*invSqrt2))
			pdf := invSqrt2Pi * Exp(-0.5*v*v)
			dxs[i] = dys[i] * (cdf + v*pdf)
		}
	})
}
