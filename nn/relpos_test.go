package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vitgo/vit/internal/gradcheck"
)

// TestRelativePositionBias checks the table's index against its
// definition, attention with the bias against its gradients (table and
// qkv), and the blocked inference path against the training one.
func TestRelativePositionBias(t *testing.T) {
	for _, cls := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(9, 10))
		gh, gw, heads, dh, batch := 2, 3, 2, 4, 2
		r := NewRelativePositionBias("rel", heads, gh, gw, cls)
		copy(r.Table.Data, gradcheck.Random(rng, r.Table.Size(), 1))
		tokens := r.Tokens()
		first := tokens - gh*gw
		bias := make([]float32, heads*tokens*tokens)
		r.Bias(bias)
		n := (2*gh - 1) * (2*gw - 1)
		for i := range tokens {
			for j := range tokens {
				want := 0
				switch {
				case i < first && j < first:
					want = n + 2
				case i < first:
					want = n
				case j < first:
					want = n + 1
				default:
					r1, c1, r2, c2 := (i-first)/gw, (i-first)%gw, (j-first)/gw, (j-first)%gw
					want = (r1-r2+gh-1)*(2*gw-1) + c1 - c2 + gw - 1
				}
				if got := bias[(1*tokens+i)*tokens+j]; got != r.Table.Data[want*heads+1] {
					t.Fatalf("cls %v: head 1 bias (%d, %d) = %v, want table row %d (%v)", cls, i, j, got, want, r.Table.Data[want*heads+1])
				}
			}
		}

		a := Attention{Heads: heads, Dim: heads * dh}
		qkv := gradcheck.Random(rng, batch*tokens*3*a.Dim, 1)
		up := gradcheck.Random(rng, batch*tokens*a.Dim, 1)
		out := make([]float32, batch*tokens*a.Dim)
		pn := batch * heads * tokens * tokens
		probs, dprobs := make([]float32, pn), make([]float32, pn)
		loss := func() float64 {
			r.Bias(bias)
			a.Bias = bias
			a.Forward(out, probs, nil, nil, qkv, batch, tokens)
			return gradcheck.Dot(out, up)
		}
		loss()
		blocked := make([]float32, len(out))
		a.Forward(blocked, nil, nil, nil, qkv, batch, tokens)
		for i := range out {
			if math.Abs(float64(blocked[i]-out[i])) > 1e-5 {
				t.Fatalf("blocked inference out[%d] = %v, training path %v", i, blocked[i], out[i])
			}
		}
		dqkv := make([]float32, len(qkv))
		a.Backward(dqkv, dprobs, nil, up, qkv, probs, nil, nil, batch, tokens)
		r.Backward(dprobs, batch, float32(1/math.Sqrt(float64(dh))))
		gradcheck.Check(t, "dqkv", qkv, dqkv, loss, 1e-3, 1e-2, 0)
		gradcheck.Check(t, "relative position table", r.Table.Data, r.Table.Grad, loss, 1e-3, 1e-2, 0)
	}
}
