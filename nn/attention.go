package nn

import (
	"math"
	"sync"

	"github.com/vitgo/vit/kernels"
)

// Attention is the parameter-free core of multi-head self-attention
// (the paper's Eq. 2 between its input and output projections):
// for each head, softmax(q·kᵀ/√dh)·v.
//
// Tokens arrive as qkv: [batch, tokens, 3, heads, dh], the output of one
// fused projection (timm's layout), and leave as out: [batch, tokens, heads·dh]
// with the heads concatenated.
type Attention struct {
	Heads, Dim int // Dim = Heads·dh
	// Bias, when not nil, is added to every image's attention logits
	// (after the 1/√dh scaling), [heads, tokens, tokens]: relative position
	// biases (RelativePositionBias). Backward then leaves scale·∂L/∂logits
	// in its dprobs for RelativePositionBias.Backward.
	Bias []float32
}

// HeadDim is dh, the width of one head.
func (a Attention) HeadDim() int { return a.Dim / a.Heads }

// Forward computes out: [batch, tokens, dim] from qkv: [batch, tokens, 3·dim]
// and writes the attention probabilities probs: [batch, heads, tokens, tokens].
//
// With attention dropout, mask: [batch, heads, tokens, tokens] holds 0 or
// 1/keep and dropped (same shape) receives probs⊙mask, which then weighs the
// values; pass nil for both otherwise.
//
// With probs nil (inference), the attention matrix is never materialised:
// queries are processed in blocks, so the memory is at most
// max(attnScoreBudget, attnMinBlock·tokens) floats per worker instead of
// heads·tokens² per image.
func (a Attention) Forward(out, probs, dropped, mask, qkv []float32, batch, tokens int) {
	if probs == nil {
		a.forwardBlocked(out, qkv, batch, tokens, false)
		return
	}
	dh := a.HeadDim()
	d3 := 3 * a.Dim
	tt := tokens * tokens
	scale := float32(1 / math.Sqrt(float64(dh)))
	kernels.ParallelFor(batch*a.Heads, 1, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/a.Heads, bh%a.Heads
			base := b * tokens * d3
			q := qkv[base+h*dh:]
			k := qkv[base+a.Dim+h*dh:]
			v := qkv[base+2*a.Dim+h*dh:]
			if bh+1 < hi {
				a.prefetchHead(qkv, bh+1, tokens)
			}
			p := probs[bh*tt : (bh+1)*tt]
			o := out[b*tokens*a.Dim+h*dh:]
			if mask == nil && a.Bias == nil {
				kernels.AttentionHead(q, k, v, d3, tokens, dh, scale, o, a.Dim, p)
				continue
			}
			kernels.SgemmSerial(false, true, tokens, tokens, dh, scale, q, d3, k, d3, 0, p, tokens)
			if a.Bias != nil {
				kernels.AddTo(p, a.Bias[h*tt:(h+1)*tt])
			}
			SoftmaxRows(p, tokens, tokens)
			weights := p
			if mask != nil {
				// Attention dropout: the dropped weights multiply V.
				weights = dropped[bh*tt : (bh+1)*tt]
				for i, m := range mask[bh*tt : (bh+1)*tt] {
					weights[i] = p[i] * m
				}
			}
			kernels.SgemmSerial(false, false, tokens, dh, tokens, 1, weights, tokens, v, d3, 0, o, a.Dim)
		}
	})
}

// attnScoreBudget bounds the attention scores one worker holds at once, in
// floats (1 MiB): the query block of forwardBlocked shrinks for long
// sequences so that memory stays O(tokens) per worker.
const attnScoreBudget = 1 << 18

// attnMinBlock is the smallest query block forwardBlocked uses.
const attnMinBlock = 32

// scorePool recycles forwardBlocked's score buffers.
var scorePool sync.Pool

// forwardBlocked is Forward without the attention matrix: each work item
// takes a block of queries of one head of one image, computes their scores
// against all keys, softmaxes them and multiplies by the values. Blocks are
// as large as the budget allows, so each head's keys and values are packed
// for the matrix kernel as few times as possible, yet there are enough
// items to keep every worker busy even at batch 1 with few heads. With
// causal set, query i sees keys 0…i only: a block scores the keys up to
// its last query, those after each query masked to −∞.
func (a Attention) forwardBlocked(out, qkv []float32, batch, tokens int, causal bool) {
	dh := a.HeadDim()
	d3 := 3 * a.Dim
	scale := float32(1 / math.Sqrt(float64(dh)))
	heads := batch * a.Heads
	want := (2*kernels.Parallelism() + heads - 1) / heads // blocks per head
	rows := (tokens + want - 1) / want
	rows = max(1, min(rows, max(attnMinBlock, attnScoreBudget/tokens)))
	blocks := (tokens + rows - 1) / rows
	kernels.ParallelFor(heads*blocks, 1, func(lo, hi int) {
		buf, _ := scorePool.Get().(*[]float32)
		if buf == nil || len(*buf) < rows*tokens {
			b := make([]float32, rows*tokens)
			buf = &b
		}
		scores := *buf
		for item := lo; item < hi; item++ {
			bh, q0 := item/blocks, (item%blocks)*rows
			b, h := bh/a.Heads, bh%a.Heads
			base := b * tokens * d3
			k := qkv[base+a.Dim+h*dh:]
			v := qkv[base+2*a.Dim+h*dh:]
			n := min(rows, tokens-q0)
			q := qkv[base+q0*d3+h*dh:]
			keys := tokens
			if causal {
				keys = q0 + n
			}
			kernels.SgemmSerial(false, true, n, keys, dh, scale, q, d3, k, d3, 0, scores, keys)
			if a.Bias != nil {
				for i := range n {
					kernels.AddTo(scores[i*keys:(i+1)*keys], a.Bias[(h*tokens+q0+i)*tokens:][:keys])
				}
			}
			if causal {
				maskCausal(scores, n, keys, q0)
			}
			SoftmaxRows(scores, n, keys)
			kernels.SgemmSerial(false, false, n, dh, keys, 1, scores, keys, v, d3, 0, out[(b*tokens+q0)*a.Dim+h*dh:], a.Dim)
		}
		scorePool.Put(buf)
	})
}

// prefetchHead asks for the query, key and value rows of head bh
// (image bh/Heads, head bh%Heads) of qkv: [batch, tokens, 3·dim] ahead of
// their use. They were written long before, by the qkv product of the
// whole batch, and their rows are 3·dim floats apart.
func (a Attention) prefetchHead(qkv []float32, bh, tokens int) {
	dh, d3 := a.HeadDim(), 3*a.Dim
	b, h := bh/a.Heads, bh%a.Heads
	for part := range 3 {
		kernels.PrefetchRows(qkv[b*tokens*d3+part*a.Dim+h*dh:], d3, tokens, dh)
	}
}

// Backward takes dout: [batch, tokens, dim] and the forward's qkv, probs and
// (with dropout) dropped and mask, and writes dqkv: [batch, tokens, 3·dim]
// (overwriting). dprobs: [batch, heads, tokens, tokens] is scratch; if
// probsGrad (same shape) is not nil it receives the gradient with respect to
// the attention probabilities (gradient-weighted attention rollout uses it).
func (a Attention) Backward(dqkv, dprobs, probsGrad, dout, qkv, probs, dropped, mask []float32, batch, tokens int) {
	dh := a.HeadDim()
	d3 := 3 * a.Dim
	tt := tokens * tokens
	scale := float32(1 / math.Sqrt(float64(dh)))
	kernels.ParallelFor(batch*a.Heads, 1, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/a.Heads, bh%a.Heads
			base := b * tokens * d3
			q, k, v := qkv[base+h*dh:], qkv[base+a.Dim+h*dh:], qkv[base+2*a.Dim+h*dh:]
			if bh+1 < hi {
				a.prefetchHead(qkv, bh+1, tokens)
				nb, nh := (bh+1)/a.Heads, (bh+1)%a.Heads
				kernels.PrefetchRows(dout[nb*tokens*a.Dim+nh*dh:], a.Dim, tokens, dh)
			}
			dq, dk, dv := dqkv[base+h*dh:], dqkv[base+a.Dim+h*dh:], dqkv[base+2*a.Dim+h*dh:]
			do := dout[b*tokens*a.Dim+h*dh:]
			p := probs[bh*tt : (bh+1)*tt]
			weights := p
			if mask != nil {
				weights = dropped[bh*tt : (bh+1)*tt]
			}
			dp := dprobs[bh*tt : (bh+1)*tt]
			if mask == nil && probsGrad == nil && a.Bias == nil {
				kernels.AttentionHeadBackward(q, k, v, d3, do, a.Dim, p, tokens, dh, scale, dq, dk, dv, d3, dp)
				continue
			}
			// dV = Wᵀ·dO, dW = dO·Vᵀ
			kernels.SgemmSerial(true, false, tokens, dh, tokens, 1, weights, tokens, do, a.Dim, 0, dv, d3)
			kernels.SgemmSerial(false, true, tokens, tokens, dh, 1, do, a.Dim, v, d3, 0, dp, tokens)
			if mask != nil {
				for i, m := range mask[bh*tt : (bh+1)*tt] {
					dp[i] *= m
				}
			}
			if probsGrad != nil {
				copy(probsGrad[bh*tt:(bh+1)*tt], dp)
			}
			// dS = P⊙(dP − rowdot)·scale, then dQ = dS·K, dK = dSᵀ·Q
			SoftmaxBackwardRows(dp, p, tokens, tokens, scale)
			kernels.SgemmSerial(false, false, tokens, dh, tokens, 1, dp, tokens, k, d3, 0, dq, d3)
			kernels.SgemmSerial(true, false, tokens, dh, tokens, 1, dp, tokens, q, d3, 0, dk, d3)
		}
	})
}
