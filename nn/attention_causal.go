package nn

import (
	"math"

	"github.com/vitgo/vit/kernels"
)

// ForwardCausal is inference-only Forward with a causal mask, as a text
// Transformer (CLIP's) uses it: query i attends to keys 0…i only. It takes
// qkv: [batch, tokens, 3·dim] and writes out: [batch, tokens, dim]. Like
// Forward without probs, it never holds the attention matrix: each block
// of queries scores only the keys up to its last query, the keys after
// each query masked to −∞ before the softmax.
func (a Attention) ForwardCausal(out, qkv []float32, batch, tokens int) {
	dh := a.HeadDim()
	d3 := 3 * a.Dim
	scale := float32(1 / math.Sqrt(float64(dh)))
	heads := batch * a.Heads
	rows := max(1, min(tokens, max(attnMinBlock, attnScoreBudget/max(tokens, 1))))
	blocks := (tokens + rows - 1) / rows
	negInf := float32(math.Inf(-1))
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
			keys := q0 + n // the last query of the block sees keys 0…keys−1
			q := qkv[base+q0*d3+h*dh:]
			kernels.SgemmSerial(false, true, n, keys, dh, scale, q, d3, k, d3, 0, scores, keys)
			for i := range n {
				row := scores[i*keys : (i+1)*keys]
				for j := q0 + i + 1; j < keys; j++ {
					row[j] = negInf
				}
			}
			SoftmaxRows(scores, n, keys)
			kernels.SgemmSerial(false, false, n, dh, keys, 1, scores, keys, v, d3, 0, out[(b*tokens+q0)*a.Dim+h*dh:], a.Dim)
		}
		scorePool.Put(buf)
	})
}
