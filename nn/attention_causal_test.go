package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestForwardCausal compares ForwardCausal with a plain evaluation of
// softmax(q·kᵀ/√dh + mask)·v, mask −∞ above the diagonal, at sizes that
// take one and several query blocks (one head of 100 tokens is split
// among the workers).
func TestForwardCausal(t *testing.T) {
	for _, c := range []struct{ batch, tokens, heads, dim int }{{2, 5, 2, 8}, {1, 77, 4, 32}, {3, 1, 1, 4}, {1, 100, 1, 8}} {
		a := Attention{Heads: c.heads, Dim: c.dim}
		rng := rand.New(rand.NewPCG(1, uint64(c.tokens)))
		qkv := make([]float32, c.batch*c.tokens*3*c.dim)
		for i := range qkv {
			qkv[i] = float32(rng.NormFloat64())
		}
		out := make([]float32, c.batch*c.tokens*c.dim)
		a.ForwardCausal(out, qkv, c.batch, c.tokens)
		dh, d3 := a.HeadDim(), 3*c.dim
		for b := range c.batch {
			for h := range c.heads {
				for i := range c.tokens {
					at := func(tok, part, j int) float64 {
						return float64(qkv[(b*c.tokens+tok)*d3+part*c.dim+h*dh+j])
					}
					w := make([]float64, i+1)
					var m, sum float64 = math.Inf(-1), 0
					for j := range i + 1 {
						for x := range dh {
							w[j] += at(i, 0, x) * at(j, 1, x)
						}
						w[j] /= math.Sqrt(float64(dh))
						m = max(m, w[j])
					}
					for j := range w {
						w[j] = math.Exp(w[j] - m)
						sum += w[j]
					}
					for x := range dh {
						var want float64
						for j := range w {
							want += w[j] / sum * at(j, 2, x)
						}
						got := out[(b*c.tokens+i)*c.dim+h*dh+x]
						if math.Abs(float64(got)-want) > 1e-5 {
							t.Fatalf("%+v: out[%d,%d,%d,%d] = %v, want %v", c, b, i, h, x, got, want)
						}
					}
				}
			}
		}
	}
}
