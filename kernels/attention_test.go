package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// attentionRef is one head of softmax attention in float64.
func attentionRef(q, k, v []float32, ld, t, dh int, scale float64) (out, probs []float64) {
	out, probs = make([]float64, t*dh), make([]float64, t*t)
	for i := range t {
		row := probs[i*t : (i+1)*t]
		m := math.Inf(-1)
		for j := range t {
			var s float64
			for p := range dh {
				s += float64(q[i*ld+p]) * float64(k[j*ld+p])
			}
			row[j] = scale * s
			m = math.Max(m, row[j])
		}
		var z float64
		for j := range row {
			row[j] = math.Exp(row[j] - m)
			z += row[j]
		}
		for j := range row {
			row[j] /= z
			for p := range dh {
				out[i*dh+p] += row[j] * float64(v[j*ld+p])
			}
		}
	}
	return out, probs
}

func TestAttentionHead(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, mk := range testKernels() {
		for _, tc := range []struct{ t, dh, ld int }{
			{50, 32, 384}, {197, 64, 576}, {17, 16, 48}, {16, 16, 16}, {5, 8, 24}, {50, 24, 75}, {1, 32, 96}, {33, 40, 120},
		} {
			for _, withProbs := range []bool{false, true} {
				name := fmt.Sprintf("%s/t%d_dh%d_probs=%v", mk.name, tc.t, tc.dh, withProbs)
				q, k, v := randSlice(r, tc.t*tc.ld), randSlice(r, tc.t*tc.ld), randSlice(r, tc.t*tc.ld)
				for i := range q {
					q[i] *= 3 // peaked softmax rows
				}
				ldo := tc.dh + 3
				out := randSlice(r, tc.t*ldo)
				keep := append([]float32(nil), out...)
				var probs []float32
				if withProbs {
					probs = randSlice(r, tc.t*tc.t)
				}
				scale := 1 / math.Sqrt(float64(tc.dh))
				attentionHead(mk, q, k, v, tc.ld, tc.t, tc.dh, float32(scale), out, ldo, probs)
				wantOut, wantProbs := attentionRef(q, k, v, tc.ld, tc.t, tc.dh, scale)
				for i := range tc.t {
					for p := range ldo {
						got := out[i*ldo+p]
						if p >= tc.dh {
							if got != keep[i*ldo+p] {
								t.Fatalf("%s: out[%d, %d] (past dh) changed", name, i, p)
							}
							continue
						}
						if d := math.Abs(float64(got) - wantOut[i*tc.dh+p]); d > 1e-5 {
							t.Fatalf("%s: out[%d, %d] = %v, want %v", name, i, p, got, wantOut[i*tc.dh+p])
						}
					}
				}
				for i, p := range probs {
					if d := math.Abs(float64(p) - wantProbs[i]); d > 1e-6 {
						t.Fatalf("%s: probs[%d] = %v, want %v", name, i, p, wantProbs[i])
					}
				}
			}
		}
	}
}

func TestAttentionHeadAllocs(t *testing.T) {
	q := make([]float32, 50*384)
	out := make([]float32, 50*128)
	probs := make([]float32, 50*50)
	AttentionHead(q, q[128:], q[256:], 384, 50, 32, 0.1, out, 128, probs)
	if a := testing.AllocsPerRun(20, func() { AttentionHead(q, q[128:], q[256:], 384, 50, 32, 0.1, out, 128, probs) }); a > 0 {
		t.Errorf("%v allocations per head", a)
	}
}

func TestPrefetchRowsBounds(t *testing.T) {
	x := make([]float32, 1000)
	PrefetchRows(nil, 384, 50, 32)
	PrefetchRows(x[:0], 384, 50, 32)
	PrefetchRows(x[:10], 384, 50, 32)
	PrefetchRows(x, 384, 50, 32)
	PrefetchRows(x, 0, 50, 32)
	PrefetchRows(x, 384, 0, 32)
}
