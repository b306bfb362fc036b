package nn

import (
	"math"

	"github.com/vitgo/vit/kernels"
)

// StdConv2D is a convolution without bias whose kernel is weight
// standardised (Qiao et al. 2019), as in BiT's ResNets (Kolesnikov et al.
// 2020) and timm's StdConv2d: each output channel's in·kernel·kernel
// weights are shifted and scaled to zero mean and unit variance before the
// convolution,
//
//	Ŵ[o] = (W[o] − mean(W[o])) / sqrt(var(W[o]) + Eps)      (biased variance)
//
// W is the learned tensor; Ŵ is recomputed from it by every Forward into
// the kernel of Conv (a scratch the layer owns, not a parameter), which then
// runs as a Conv2D: channels-last maps, zero padding Kernel/2.
type StdConv2D struct {
	W    *Param  // [out, kernel, kernel, in], the learned kernel
	Conv *Conv2D // Conv.Dense.W holds Ŵ; Conv.Dense.W.Grad is ∂L/∂Ŵ during Backward
	Eps  float32

	rstd []float32 // [out]: 1/sqrt(var+Eps) of each output channel, from the last Forward
}

// NewStdConv2D allocates a zeroed layer from in to out channels with an odd
// kernel×kernel window and the given stride.
func NewStdConv2D(name string, in, out, kernel, stride int, eps float32) *StdConv2D {
	w := NewParam(name+".weight", false, out, kernel, kernel, in)
	return &StdConv2D{W: w, Conv: newStdKernel(name, in, out, kernel, stride), Eps: eps, rstd: make([]float32, out)}
}

func newStdKernel(name string, in, out, kernel, stride int) *Conv2D {
	l := NewLinear(name+".std", in*kernel*kernel, out, false)
	return &Conv2D{Dense: l, In: in, Out: out, Kernel: kernel, Stride: stride, Padding: kernel / 2}
}

// Replica returns a layer that shares c's weights (Param.Share) but has its
// own gradient, standardised kernel and scratch.
func (c *StdConv2D) Replica() *StdConv2D {
	k := c.Conv
	return &StdConv2D{W: c.W.Share(), Conv: newStdKernel(c.W.Name, k.In, k.Out, k.Kernel, k.Stride), Eps: c.Eps, rstd: make([]float32, k.Out)}
}

// Params lists the layer's tensors: its kernel.
func (c *StdConv2D) Params() []*Param { return []*Param{c.W} }

// Pointwise reports whether the layer is a 1×1 convolution at stride 1,
// which reads its input as it is (no im2col patches).
func (c *StdConv2D) Pointwise() bool { return c.Conv.Kernel == 1 && c.Conv.Stride == 1 }

// ColSize is the im2col buffer Forward needs for an input of batch h×w
// maps: 0 for a pointwise layer reading a channels-last map.
func (c *StdConv2D) ColSize(batch, h, w int) int {
	if c.Pointwise() {
		return 0
	}
	oh, ow := c.Conv.OutSize(h, w)
	return batch * oh * ow * c.Conv.ColSize()
}

// Standardize computes Ŵ from W into Conv's kernel.
func (c *StdConv2D) Standardize() {
	k := c.Conv.ColSize()
	what := c.Conv.Dense.W.Data
	for o := range c.Conv.Out {
		w, dst := c.W.Data[o*k:(o+1)*k], what[o*k:(o+1)*k]
		var s float64
		for _, v := range w {
			s += float64(v)
		}
		mu := s / float64(k)
		var ss float64
		for _, v := range w {
			d := float64(v) - mu
			ss += d * d
		}
		rs := 1 / math.Sqrt(ss/float64(k)+float64(c.Eps))
		c.rstd[o] = float32(rs)
		for i, v := range w {
			dst[i] = float32((float64(v) - mu) * rs)
		}
	}
}

// Forward standardises the kernel and computes y: [batch, oh, ow, out]
// from x, channels-last [batch, h, w, in] or with nchw channels-first,
// through cols (ColSize values; nil for a pointwise layer on a
// channels-last map), which Backward needs again.
func (c *StdConv2D) Forward(y, cols, x []float32, batch, h, w int, nchw bool) {
	c.Standardize()
	if c.Pointwise() && !nchw {
		c.Conv.Dense.Forward(y, x, batch*h*w)
		return
	}
	c.Conv.Forward(y, cols, x, batch, h, w, nchw)
}

// Backward takes dy: [batch, oh, ow, out], the forward's input x
// (channels-last) and cols, and adds ∂L/∂W into W.Grad through the
// standardisation's backward:
//
//	∂L/∂W[o] = rstd·(g − mean(g) − Ŵ[o]·mean(g⊙Ŵ[o])),  g = ∂L/∂Ŵ[o].
//
// When dx is not nil it ADDS ∂L/∂x: [batch, h, w, in] into dx, using dcols
// (the size of cols) as scratch.
func (c *StdConv2D) Backward(dx, dcols, dy, x, cols []float32, batch, h, w int) {
	d := c.Conv.Dense
	clear(d.W.Grad)
	oh, ow := c.Conv.OutSize(h, w)
	rows := batch * oh * ow
	switch {
	case c.Pointwise():
		d.BackwardOutputs(dx, dy, x, d.In, rows, 0, d.Out, true)
	case dx == nil:
		d.Backward(nil, dy, cols, rows)
	default:
		d.Backward(dcols, dy, cols, rows)
		c.Conv.Col2Im(dx, dcols, batch, h, w)
	}
	if c.W.Frozen {
		return
	}
	k := c.Conv.ColSize()
	kernels.ParallelFor(c.Conv.Out, 8, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			g, what, dw := d.W.Grad[o*k:(o+1)*k], d.W.Data[o*k:(o+1)*k], c.W.Grad[o*k:(o+1)*k]
			var sg, sgw float64
			for i, v := range g {
				sg += float64(v)
				sgw += float64(v) * float64(what[i])
			}
			mg, mgw, rs := float32(sg/float64(k)), float32(sgw/float64(k)), c.rstd[o]
			for i, v := range g {
				dw[i] += rs * (v - mg - what[i]*mgw)
			}
		}
	})
}
