package nn

import (
	"math"

	"github.com/vitgo/vit/kernels"
)

// The class token's attention alone. In the last block of a model that
// classifies from the class token, no other token's output is ever read,
// so only the class token's query needs attending: one row of each head's
// attention matrix instead of tokens rows.

// ForwardClass is Forward for the first token's query (the class token)
// alone: for each image and head it attends from that query to every
// token. qkv: [batch, tokens, 3·dim] as in Forward (only the first row of
// each image's queries is read); out: [batch, dim], the class token's
// output with the heads concatenated; probs: [batch, heads, tokens], its
// attention over the tokens, which BackwardClass needs.
func (a Attention) ForwardClass(out, probs, qkv []float32, batch, tokens int) {
	dh, d3 := a.HeadDim(), 3*a.Dim
	scale := float32(1 / math.Sqrt(float64(dh)))
	kernels.ParallelFor(batch*a.Heads, 1, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/a.Heads, bh%a.Heads
			img := qkv[b*tokens*d3 : (b+1)*tokens*d3]
			q := img[h*dh : (h+1)*dh]
			p := probs[bh*tokens : (bh+1)*tokens]
			for j := range p {
				p[j] = scale * kernels.Dot(q, img[j*d3+a.Dim+h*dh:][:dh])
			}
			SoftmaxRows(p, 1, tokens)
			o := out[b*a.Dim+h*dh:][:dh]
			clear(o)
			for j, pj := range p {
				axpy(o, pj, img[j*d3+2*a.Dim+h*dh:][:dh])
			}
		}
	})
}

// BackwardClass is the backward of ForwardClass. It takes dout: [batch,
// dim], the gradient of the class token's output, with the forward's qkv
// and probs, and writes dq: [batch, dim], the gradient of the class token's
// query, and dkv: [batch, tokens, 2·dim], that of every token's key (first
// dim columns) and value (last dim columns), overwriting both. dprobs:
// [batch, heads, tokens] is scratch.
func (a Attention) BackwardClass(dq, dkv, dprobs, dout, qkv, probs []float32, batch, tokens int) {
	dh, d3, d2 := a.HeadDim(), 3*a.Dim, 2*a.Dim
	scale := float32(1 / math.Sqrt(float64(dh)))
	kernels.ParallelFor(batch*a.Heads, 1, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/a.Heads, bh%a.Heads
			img := qkv[b*tokens*d3 : (b+1)*tokens*d3]
			dimg := dkv[b*tokens*d2 : (b+1)*tokens*d2]
			q := img[h*dh : (h+1)*dh]
			do := dout[b*a.Dim+h*dh:][:dh]
			p := probs[bh*tokens : (bh+1)*tokens]
			// dP = dO·Vᵀ and dV = Pᵀ·dO, a row and an outer product.
			dp := dprobs[bh*tokens : (bh+1)*tokens]
			for j, pj := range p {
				dp[j] = kernels.Dot(do, img[j*d3+2*a.Dim+h*dh:][:dh])
				dv := dimg[j*d2+a.Dim+h*dh:][:dh]
				for i, v := range do {
					dv[i] = pj * v
				}
			}
			// dS = P⊙(dP − P·dP)·scale; dQ = dS·K and dK = dSᵀ·Q.
			SoftmaxBackwardRows(dp, p, 1, tokens, scale)
			dqh := dq[b*a.Dim+h*dh:][:dh]
			clear(dqh)
			for j, s := range dp {
				axpy(dqh, s, img[j*d3+a.Dim+h*dh:][:dh])
				dk := dimg[j*d2+h*dh:][:dh]
				for i, v := range q {
					dk[i] = s * v
				}
			}
		}
	})
}

// axpy adds alpha·x to y.
func axpy(y []float32, alpha float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += alpha * x[i]
	}
}
