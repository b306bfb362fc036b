package vit

import (
	"github.com/vitgo/vit/kernels"
	"github.com/vitgo/vit/nn"
)

// The variable parts of an encoder block: the MLP's first layer and
// activation (exact GELU, tanh-GELU or QuickGELU, fused into the product;
// or SwiGLU), and the end of each residual branch with LayerScale.

// mlpIn computes the MLP's activation act: [rows, mlp] from its input x:
// [rows, dim] through fc1, keeping fc1's output in hidden: [rows, fc1.Out]
// (2·mlp with SwiGLU) for the backward pass.
func (ws *Workspace) mlpIn(fc1 *nn.Linear, kind string, swiglu bool, act, hidden, x []float32, rows int) {
	if !swiglu {
		ws.linearAct(fc1, kind, act, hidden, x, rows)
		return
	}
	ws.linear(fc1, hidden, x, rows)
	m := fc1.Out / 2
	nn.SwiGLU(act[:rows*m], hidden[:rows*fc1.Out], rows, m)
}

// mlpBackward carries dy: [rows, dim], the gradient of fc2's output,
// back through fc2, the dropout mask on the activation (nil without) and
// the activation, and returns the gradient of fc1's output: dh[:rows·fc1.Out].
// dact: [rows, mlp] is scratch for SwiGLU (unused otherwise).
func mlpBackward(fc1, fc2 *nn.Linear, kind string, swiglu bool, dh, dact, dy, act, hidden, mask []float32, rows int) []float32 {
	m := fc2.In
	dh = dh[:rows*fc1.Out]
	hidden = hidden[:rows*fc1.Out]
	if !swiglu && mask == nil {
		fc2.BackwardAct(kind, dh, dy, act, hidden, rows)
		return dh
	}
	if !swiglu {
		dact = dh
	}
	dact = dact[:rows*m]
	fc2.Backward(dact, dy, act, rows)
	if mask != nil {
		nn.Mul(dact, mask[:rows*m])
	}
	if swiglu {
		nn.SwiGLUBackward(dh, dact, hidden, rows, m)
	} else {
		nn.ActivateBackward(kind, dh, dact, hidden)
	}
	return dh
}

// branchOut ends a residual branch of Eq. 2 or 3: y = skip +
// keep·(gamma ⊙ mask ⊙ lin(x)) over batch·tokens rows, with LayerScale's
// gamma (nil without), dropout's mask and stochastic depth's keep (either
// may be nil). With gamma, out: [rows, dim] keeps lin(x), which
// LayerScale's backward reads.
func (ws *Workspace) branchOut(lin *nn.Linear, gamma *nn.Param, y, out, x, skip, mask, keep []float32, batch, tokens int) {
	if gamma == nil {
		ws.linearResidual(lin, y, x, skip, mask, keep, batch, tokens)
		return
	}
	n, d := batch*tokens, lin.Out
	ws.linear(lin, out, x, n)
	y = y[:n*d]
	copy(y, out[:n*d])
	if mask != nil {
		nn.Mul(y, mask[:n*d])
	}
	g := gamma.Data
	kernels.ParallelFor(n, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := y[r*d : (r+1)*d]
			for j := range row {
				row[j] *= g[j]
			}
		}
	})
	residual(y, skip, nil, keep, batch, tokens*d)
}

// branchBackward is the gradient reaching a branch's dense layer output
// from the gradient dsum of the residual sum (see branchOut): with
// LayerScale it adds gamma's gradient and returns dsum⊙keep⊙mask⊙gamma in
// buf; without, branchGrad's.
func branchBackward(buf, dsum, out []float32, gamma *nn.Param, mask, keep []float32, batch, tokens, d int) []float32 {
	if gamma == nil {
		return branchGrad(buf, dsum, mask, keep, batch, tokens*d)
	}
	n := batch * tokens
	g := branchGrad(buf, dsum, mask, keep, batch, tokens*d)
	if &g[0] != &buf[0] {
		copy(buf[:n*d], g)
		g = buf[:n*d]
	}
	if !gamma.Frozen {
		for r := range n {
			row, o := g[r*d:(r+1)*d], out[r*d:(r+1)*d]
			for j, v := range row {
				gamma.Grad[j] += v * o[j]
			}
		}
	}
	for r := range n {
		row := g[r*d : (r+1)*d]
		for j := range row {
			row[j] *= gamma.Data[j]
		}
	}
	return g
}
