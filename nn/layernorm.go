package nn

import (
	"math"

	"github.com/vitgo/vit/kernels"
)

// LayerNorm normalises each row to zero mean and unit variance, then scales
// and shifts: y = (x − mean)/sqrt(var + Eps)·G + B. G, B: [dim].
type LayerNorm struct {
	G, B *Param
	Dim  int
	Eps  float32
}

// NewLayerNorm returns a layer with G = 1 and B = 0.
func NewLayerNorm(name string, dim int, eps float32) *LayerNorm {
	ln := &LayerNorm{G: NewParam(name+".weight", true, dim), B: NewParam(name+".bias", true, dim), Dim: dim, Eps: eps}
	for i := range ln.G.Data {
		ln.G.Data[i] = 1
	}
	return ln
}

// Params lists the layer's tensors.
func (ln *LayerNorm) Params() []*Param { return []*Param{ln.G, ln.B} }

// Forward normalises n rows. x, y: [n, dim]. mean and rstd ([n], the mean and
// 1/sqrt(var+eps) of each row) are written for Backward; pass nil at inference.
func (ln *LayerNorm) Forward(y, x, mean, rstd []float32, n int) {
	d := ln.Dim
	g, b := ln.G.Data, ln.B.Data
	kernels.ParallelFor(n, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr := x[r*d : (r+1)*d]
			yr := y[r*d : (r+1)*d]
			var s float32
			for _, v := range xr {
				s += v
			}
			mu := s / float32(d)
			var ss float32
			for _, v := range xr {
				c := v - mu
				ss += c * c
			}
			rs := float32(1 / math.Sqrt(float64(ss/float32(d)+ln.Eps)))
			if mean != nil {
				mean[r], rstd[r] = mu, rs
			}
			for j, v := range xr {
				yr[j] = (v-mu)*rs*g[j] + b[j]
			}
		}
	})
}

// Backward takes dy: [n, dim] and the forward input x with its mean and rstd.
// It ADDS the input gradient into dx: [n, dim] (the residual stream's
// gradient accumulates there) and adds to G.Grad and B.Grad.
func (ln *LayerNorm) Backward(dx, dy, x, mean, rstd []float32, n int) {
	d := ln.Dim
	g := ln.G.Data
	// Input gradients in parallel over rows; parameter gradients below.
	kernels.ParallelFor(n, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, dyr, dxr := x[r*d:(r+1)*d], dy[r*d:(r+1)*d], dx[r*d:(r+1)*d]
			mu, rs := mean[r], rstd[r]
			// xhat = (x-mu)·rs; dxhat = dy·g
			var sumD, sumDX float32
			for j, v := range dyr {
				dh := v * g[j]
				sumD += dh
				sumDX += dh * (xr[j] - mu) * rs
			}
			sumD /= float32(d)
			sumDX /= float32(d)
			for j, v := range dyr {
				xh := (xr[j] - mu) * rs
				dxr[j] += rs * (v*g[j] - sumD - xh*sumDX)
			}
		}
	})
	if ln.G.Frozen {
		return
	}
	gg, gb := ln.G.Grad, ln.B.Grad
	for r := 0; r < n; r++ {
		xr, dyr := x[r*d:(r+1)*d], dy[r*d:(r+1)*d]
		mu, rs := mean[r], rstd[r]
		for j, v := range dyr {
			gg[j] += v * (xr[j] - mu) * rs
			gb[j] += v
		}
	}
}
