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

// attentionBackwardRef is AttentionHeadBackward in float64, from P as
// given: dV = Pᵀ·dO, dP = dO·Vᵀ, dS = scale·P⊙(dP − rowsum(dP⊙P)),
// dQ = dS·K, dK = dSᵀ·Q.
func attentionBackwardRef(q, k, v []float32, ld int, dout []float32, ldo int, probs []float32, t, dh int, scale float64) (dq, dk, dv, ds []float64) {
	dq, dk, dv, ds = make([]float64, t*dh), make([]float64, t*dh), make([]float64, t*dh), make([]float64, t*t)
	for i := range t {
		var dot float64
		for j := range t {
			var s float64
			for p := range dh {
				s += float64(dout[i*ldo+p]) * float64(v[j*ld+p])
			}
			ds[i*t+j] = s
			dot += s * float64(probs[i*t+j])
		}
		for j := range t {
			ds[i*t+j] = scale * float64(probs[i*t+j]) * (ds[i*t+j] - dot)
		}
	}
	for i := range t {
		for j := range t {
			pij, sij := float64(probs[i*t+j]), ds[i*t+j]
			for p := range dh {
				dv[j*dh+p] += pij * float64(dout[i*ldo+p])
				dq[i*dh+p] += sij * float64(k[j*ld+p])
				dk[j*dh+p] += sij * float64(q[i*ld+p])
			}
		}
	}
	return dq, dk, dv, ds
}

// TestAttentionHeadBackward checks the fused backward of one head against
// float64 on awkward sizes (tokens not a multiple of the tile, 1 token, dh
// not a multiple of 16, heads smaller than a tile), for every kernel, and
// that it writes nothing past dh in the gradient rows.
func TestAttentionHeadBackward(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, mk := range testKernels() {
		for _, tc := range []struct{ t, dh, ld int }{
			{50, 32, 384}, {197, 64, 576}, {17, 16, 48}, {16, 16, 16}, {5, 8, 24}, {50, 24, 75}, {1, 32, 96}, {33, 40, 120},
		} {
			name := fmt.Sprintf("%s/t%d_dh%d", mk.name, tc.t, tc.dh)
			q, k, v := randSlice(r, tc.t*tc.ld), randSlice(r, tc.t*tc.ld), randSlice(r, tc.t*tc.ld)
			for i := range q {
				q[i] *= 3
			}
			scale := 1 / math.Sqrt(float64(tc.dh))
			probs := make([]float32, tc.t*tc.t)
			_, p64 := attentionRef(q, k, v, tc.ld, tc.t, tc.dh, scale)
			for i := range probs {
				probs[i] = float32(p64[i])
			}
			ldo, ldd := tc.dh+5, tc.ld
			dout := randSlice(r, tc.t*ldo)
			grads := [3][]float32{randSlice(r, tc.t*ldd), randSlice(r, tc.t*ldd), randSlice(r, tc.t*ldd)}
			keep := [3][]float32{append([]float32(nil), grads[0]...), append([]float32(nil), grads[1]...), append([]float32(nil), grads[2]...)}
			ds := randSlice(r, tc.t*tc.t)
			attentionHeadBackward(mk, q, k, v, tc.ld, dout, ldo, probs, tc.t, tc.dh, float32(scale), grads[0], grads[1], grads[2], ldd, ds)
			dq, dk, dv, ds64 := attentionBackwardRef(q, k, v, tc.ld, dout, ldo, probs, tc.t, tc.dh, scale)
			for g, want := range [3][]float64{dq, dk, dv} {
				for i := range tc.t {
					for p := range ldd {
						got := grads[g][i*ldd+p]
						if p >= tc.dh {
							if got != keep[g][i*ldd+p] {
								t.Fatalf("%s: %s[%d, %d] (past dh) changed", name, "QKV"[g:g+1], i, p)
							}
							continue
						}
						if d := math.Abs(float64(got) - want[i*tc.dh+p]); d > 2e-5 {
							t.Fatalf("%s: d%s[%d, %d] = %v, want %v", name, "QKV"[g:g+1], i, p, got, want[i*tc.dh+p])
						}
					}
				}
			}
			for i := range ds {
				if d := math.Abs(float64(ds[i]) - ds64[i]); d > 2e-6 {
					t.Fatalf("%s: dS[%d] = %v, want %v", name, i, ds[i], ds64[i])
				}
			}
		}
	}
}
