package nn

import "github.com/vitgo/vit/kernels"

// Linear is a dense layer y = x·Wᵀ + b.
// W: [out, in] (the layout of PyTorch and safetensors checkpoints), B: [out] or nil.
type Linear struct {
	W, B    *Param
	In, Out int

	scratch []float32        // per-worker bias-gradient partials in Backward
	packed  *kernels.PackedB // W packed for Infer, or nil
}

// NewLinear allocates a zeroed layer; the caller initialises it.
func NewLinear(name string, in, out int, bias bool) *Linear {
	l := &Linear{W: NewParam(name+".weight", false, out, in), In: in, Out: out}
	if bias {
		l.B = NewParam(name+".bias", true, out)
	}
	return l
}

// Forward computes y = x·Wᵀ + b for n rows. x: [n, in], y: [n, out].
func (l *Linear) Forward(y, x []float32, n int) { l.forward(y, x, n, kernels.Epilogue{}, false) }

// ForwardAct is Forward followed by act = f(y), f the activation kind
// of Activate, fused into the product (each block of y is activated while
// in cache); y keeps the pre-activation, which the backward needs. act:
// [n, out].
func (l *Linear) ForwardAct(kind string, act, y, x []float32, n int) {
	e := epilogue(kind)
	e.GELU = act
	l.forward(y, x, n, e, false)
}

// ForwardResidual is Forward followed by y += skip, a residual connection,
// fused into the product. skip: [n, out].
func (l *Linear) ForwardResidual(y, x, skip []float32, n int) {
	l.forward(y, x, n, kernels.Epilogue{Add: skip}, false)
}

// forward computes y = x·Wᵀ + b, then the epilogue e, through the packed
// weights when infer is set and the layer has them.
func (l *Linear) forward(y, x []float32, n int, e kernels.Epilogue, infer bool) {
	if l.B != nil {
		e.Bias = l.B.Data
	}
	if infer && l.packed != nil {
		kernels.GemmPackedEpilogue(n, 1, x, l.In, l.packed, 0, y, l.Out, e)
		return
	}
	kernels.SgemmEpilogue(false, true, n, l.Out, l.In, 1, x, l.In, l.W.Data, l.In, 0, y, l.Out, e)
}

// Pack packs W once in number format dt for Infer (inference products
// then skip repacking the weights on every call; with kernels.BF16 they run
// in bfloat16). The packed copy reflects W as it is now: call Pack again
// after changing W, or Unpack.
func (l *Linear) Pack(dt kernels.DType) {
	l.packed = kernels.PackB(dt, true, l.In, l.Out, l.W.Data, l.In)
}

// Unpack drops the packed weights; Infer then computes from W like Forward.
func (l *Linear) Unpack() { l.packed = nil }

// Packed returns the packed weights, or nil.
func (l *Linear) Packed() *kernels.PackedB { return l.packed }

// Infer is Forward through the packed weights when the layer has them.
// x: [n, in], y: [n, out].
func (l *Linear) Infer(y, x []float32, n int) { l.forward(y, x, n, kernels.Epilogue{}, true) }

// InferAct is ForwardAct through the packed weights when the layer has
// them.
func (l *Linear) InferAct(kind string, act, y, x []float32, n int) {
	e := epilogue(kind)
	e.GELU = act
	l.forward(y, x, n, e, true)
}

// InferResidual is ForwardResidual through the packed weights when the
// layer has them.
func (l *Linear) InferResidual(y, x, skip []float32, n int) {
	l.forward(y, x, n, kernels.Epilogue{Add: skip}, true)
}

// ForwardOutputs computes outputs [o0, o1) of y = x·Wᵀ + b alone, for n
// rows of x that lie ldx apart, into rows of y that lie ldy apart (column j
// of y is output o0+j): a layer whose outputs are used in part (the
// queries of one token, say) computes only those.
func (l *Linear) ForwardOutputs(y []float32, ldy int, x []float32, ldx, n, o0, o1 int) {
	var e kernels.Epilogue
	if l.B != nil {
		e.Bias = l.B.Data[o0:o1]
	}
	kernels.SgemmEpilogue(false, true, n, o1-o0, l.In, 1, x, ldx, l.W.Data[o0*l.In:], l.In, 0, y, ldy, e)
}

// Backward takes dy: [n, out] and the forward input x: [n, in]. It adds
// dyᵀ·x to W.Grad and the column sums of dy to B.Grad, and, when dx is not
// nil, writes dx = dy·W: [n, in] (overwriting).
func (l *Linear) Backward(dx, dy, x []float32, n int) {
	l.BackwardOutputs(dx, dy, x, l.In, n, 0, l.Out, false)
}

// BackwardOutputs is Backward for ForwardOutputs: dy: [n, o1−o0] is the
// gradient of outputs [o0, o1), and x, dx have rows ldx apart. It adds to
// rows [o0, o1) of W.Grad and to B.Grad[o0:o1], and, when dx is not nil,
// writes dx = dy·W[o0:o1], or adds it to dx with accumulate.
func (l *Linear) BackwardOutputs(dx, dy, x []float32, ldx, n, o0, o1 int, accumulate bool) {
	out := o1 - o0
	if !l.W.Frozen {
		kernels.Sgemm(true, false, out, l.In, n, 1, dy, out, x, ldx, 1, l.W.Grad[o0*l.In:], l.In)
	}
	if l.B != nil && !l.B.Frozen {
		if len(l.scratch) < kernels.Workers*l.Out {
			l.scratch = make([]float32, kernels.Workers*l.Out)
		}
		kernels.ColumnSums(l.B.Grad[o0:o1], dy, n, l.scratch)
	}
	if dx != nil {
		beta := float32(0)
		if accumulate {
			beta = 1
		}
		kernels.Sgemm(false, false, n, l.In, out, 1, dy, out, l.W.Data[o0*l.In:], l.In, beta, dx, ldx)
	}
}

// BackwardAct is Backward for a layer whose input x was f(h), f the
// activation kind of Activate: it writes the gradient with respect to h,
// dh = (dy·W) ⊙ f'(h), the activation's backward fused into the product.
// h, dh: [n, in].
func (l *Linear) BackwardAct(kind string, dh, dy, x, h []float32, n int) {
	l.Backward(nil, dy, x, n)
	e := epilogue(kind)
	e.GELUInput = h
	kernels.SgemmEpilogue(false, false, n, l.In, l.Out, 1, dy, l.Out, l.W.Data, l.In, 0, dh, l.In, e)
}

// Replica returns a layer that shares l's weights (Param.Share) but has its
// own gradients and scratch, for data-parallel training. It is never packed.
func (l *Linear) Replica() *Linear {
	r := &Linear{W: l.W.Share(), In: l.In, Out: l.Out}
	if l.B != nil {
		r.B = l.B.Share()
	}
	return r
}

// Params lists the layer's tensors.
func (l *Linear) Params() []*Param {
	if l.B == nil {
		return []*Param{l.W}
	}
	return []*Param{l.W, l.B}
}
