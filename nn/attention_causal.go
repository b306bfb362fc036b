package nn

import "math"

// ForwardCausal is inference-only Forward with a causal mask, as a text
// Transformer (CLIP's) uses it: query i attends to keys 0…i only. It takes
// qkv: [batch, tokens, 3·dim] and writes out: [batch, tokens, dim]. Like
// Forward without probs, it never holds the attention matrix.
func (a Attention) ForwardCausal(out, qkv []float32, batch, tokens int) {
	a.forwardBlocked(out, qkv, batch, tokens, true)
}

// maskCausal sets to −∞ the scores of keys after each query: scores is
// [n, keys] for queries q0…q0+n−1.
func maskCausal(scores []float32, n, keys, q0 int) {
	negInf := float32(math.Inf(-1))
	for i := range n {
		row := scores[i*keys : (i+1)*keys]
		for j := q0 + i + 1; j < keys; j++ {
			row[j] = negInf
		}
	}
}
