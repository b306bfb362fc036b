package nn

import "github.com/vitgo/vit/kernels"

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

// Replica returns a layer that shares ln's weights (Param.Share) but has its
// own gradients and scratch, for data-parallel training.
func (ln *LayerNorm) Replica() *LayerNorm {
	return &LayerNorm{G: ln.G.Share(), B: ln.B.Share(), Dim: ln.Dim, Eps: ln.Eps}
}

// Params lists the layer's tensors.
func (ln *LayerNorm) Params() []*Param { return []*Param{ln.G, ln.B} }

// Forward normalises n rows. x, y: [n, dim]. mean and rstd ([n], the mean and
// 1/sqrt(var+eps) of each row) are written for Backward; pass nil at inference.
func (ln *LayerNorm) Forward(y, x, mean, rstd []float32, n int) {
	d := ln.Dim
	kernels.ParallelFor(n, 64, func(lo, hi int) {
		var mu, rs []float32
		if mean != nil {
			mu, rs = mean[lo:hi], rstd[lo:hi]
		}
		kernels.LayerNormRows(y[lo*d:hi*d], x[lo*d:hi*d], ln.G.Data, ln.B.Data, hi-lo, d, ln.Eps, mu, rs)
	})
}

// Backward takes dy: [n, dim] and the forward input x with its mean and rstd.
// It ADDS the input gradient into dx: [n, dim] (the residual stream's
// gradient accumulates there) and adds to G.Grad and B.Grad.
func (ln *LayerNorm) Backward(dx, dy, x, mean, rstd []float32, n int) {
	d := ln.Dim
	// Each chunk of rows sums its parameter gradients into its own
	// partial; the partials are added at the end in a fixed order, so the
	// result does not depend on scheduling.
	chunks := min(kernels.Parallelism(), max(1, n/64))
	if len(ln.partial) < chunks*2*d {
		ln.partial = make([]float32, chunks*2*d)
	}
	part := ln.partial[:chunks*2*d]
	clear(part)
	per := (n + chunks - 1) / chunks
	kernels.ParallelFor(chunks, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			r0, r1 := ch*per, min(n, (ch+1)*per)
			if r0 >= r1 {
				continue
			}
			gg, gb := part[ch*2*d:ch*2*d+d], part[ch*2*d+d:(ch+1)*2*d]
			kernels.LayerNormBackwardRows(dx[r0*d:r1*d], dy[r0*d:r1*d], x[r0*d:r1*d], ln.G.Data,
				mean[r0:r1], rstd[r0:r1], r1-r0, d, gg, gb)
		}
	})
	if ln.G.Frozen {
		return
	}
	for ch := range chunks {
		for j := range d {
			ln.G.Grad[j] += part[ch*2*d+j]
			ln.B.Grad[j] += part[ch*2*d+d+j]
		}
	}
}
