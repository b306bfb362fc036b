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

	partial []float32 // per-chunk parameter gradients in Backward
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
			mu := kernels.Sum(xr) / float32(d)
			rs := float32(1 / math.Sqrt(float64(kernels.SumSqDev(xr, mu)/float32(d)+ln.Eps)))
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
	frozen := ln.G.Frozen
	// Each chunk of rows sums its parameter gradients into its own
	// partial; the partials are added at the end in a fixed order, so the
	// result does not depend on scheduling.
	chunks := min(kernels.Workers, max(1, n/64))
	if len(ln.partial) < chunks*2*d {
		ln.partial = make([]float32, chunks*2*d)
	}
	part := ln.partial[:chunks*2*d]
	clear(part)
	per := (n + chunks - 1) / chunks
	kernels.ParallelFor(chunks, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			gg, gb := part[ch*2*d:ch*2*d+d], part[ch*2*d+d:(ch+1)*2*d]
			for r := ch * per; r < min(n, (ch+1)*per); r++ {
				xr, dyr, dxr := x[r*d:(r+1)*d], dy[r*d:(r+1)*d], dx[r*d:(r+1)*d]
				mu, rs := mean[r], rstd[r]
				// xhat = (x−mu)·rs; dxhat = dy·g
				var sumD, sumDX float32
				for j, v := range dyr {
					xh := (xr[j] - mu) * rs
					dh := v * g[j]
					sumD += dh
					sumDX += dh * xh
					if !frozen {
						gg[j] += v * xh
						gb[j] += v
					}
				}
				sumD /= float32(d)
				sumDX /= float32(d)
				for j, v := range dyr {
					xh := (xr[j] - mu) * rs
					dxr[j] += rs * (v*g[j] - sumD - xh*sumDX)
				}
			}
		}
	})
	if frozen {
		return
	}
	for ch := range chunks {
		for j := range d {
			ln.G.Grad[j] += part[ch*2*d+j]
			ln.B.Grad[j] += part[ch*2*d+d+j]
		}
	}
}
