package vit

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vitgo/vit/internal/kernelpath/kernelpathtest"
	"github.com/vitgo/vit/kernels"
	"github.com/vitgo/vit/nn"
)

// referenceForward is the paper's Eq. 1–4 written as plainly as possible,
// in float64, straight from the model's parameters: the yardstick for the
// optimised paths (packed weights, blocked attention, AVX2/AVX-512 or
// portable kernels, bf16). x: [batch, channels, height, width].
func referenceForward(m *Model, x []float32, batch int) [][]float64 {
	c := m.Config
	d, t, h := c.Dim, c.Tokens(), c.Heads
	dh := d / h
	dense := func(w, b []float32, in []float64, out int) []float64 {
		y := make([]float64, out)
		for o := range out {
			s := 0.0
			if b != nil {
				s = float64(b[o])
			}
			for i, v := range in {
				s += float64(w[o*len(in)+i]) * v
			}
			y[o] = s
		}
		return y
	}
	layerNorm := func(g, b []float32, in []float64) []float64 {
		mu, v := 0.0, 0.0
		for _, x := range in {
			mu += x
		}
		mu /= float64(len(in))
		for _, x := range in {
			v += (x - mu) * (x - mu)
		}
		rs := 1 / math.Sqrt(v/float64(len(in))+float64(c.Eps()))
		y := make([]float64, len(in))
		for i, x := range in {
			y[i] = (x-mu)*rs*float64(g[i]) + float64(b[i])
		}
		return y
	}
	bias := func(l *nn.Param) []float32 {
		if l == nil {
			return nil
		}
		return l.Data
	}
	var out [][]float64
	for b := range batch {
		// (1) patches, projection, class token, position embeddings.
		var z [][]float64
		if c.ClassToken() {
			z = append(z, make([]float64, d))
			for j := range d {
				z[0][j] = float64(m.ClassToken.Data[j])
			}
		}
		p := c.Patch
		for gy := range c.GridH() {
			for gx := range c.GridW() {
				var patch []float64
				for ch := range c.Channels {
					for py := range p {
						for px := range p {
							patch = append(patch, float64(x[((b*c.Channels+ch)*c.ImageHeight+gy*p+py)*c.ImageWidth+gx*p+px]))
						}
					}
				}
				z = append(z, dense(m.PatchEmbed.W.Data, bias(m.PatchEmbed.B), patch, d))
			}
		}
		for i := range z {
			for j := range d {
				z[i][j] += float64(m.PosEmbed.Data[i*d+j])
			}
		}
		for _, blk := range m.Blocks {
			// (2) multi-head self-attention on LN(z), plus the residual.
			qkv := make([][]float64, t)
			for i := range t {
				qkv[i] = dense(blk.QKV.W.Data, bias(blk.QKV.B), layerNorm(blk.Norm1.G.Data, blk.Norm1.B.Data, z[i]), 3*d)
			}
			attn := make([][]float64, t)
			for i := range t {
				attn[i] = make([]float64, d)
			}
			for hd := range h {
				for i := range t {
					scores := make([]float64, t)
					mx := math.Inf(-1)
					for j := range t {
						s := 0.0
						for e := range dh {
							s += qkv[i][hd*dh+e] * qkv[j][d+hd*dh+e]
						}
						scores[j] = s / math.Sqrt(float64(dh))
						mx = max(mx, scores[j])
					}
					sum := 0.0
					for j := range scores {
						scores[j] = math.Exp(scores[j] - mx)
						sum += scores[j]
					}
					for j := range t {
						for e := range dh {
							attn[i][hd*dh+e] += scores[j] / sum * qkv[j][2*d+hd*dh+e]
						}
					}
				}
			}
			for i := range t {
				o := dense(blk.Proj.W.Data, bias(blk.Proj.B), attn[i], d)
				for j := range d {
					z[i][j] += o[j]
				}
			}
			// (3) MLP with exact GELU on LN(z'), plus the residual.
			for i := range t {
				hid := dense(blk.FC1.W.Data, bias(blk.FC1.B), layerNorm(blk.Norm2.G.Data, blk.Norm2.B.Data, z[i]), c.MLPDim)
				for j, v := range hid {
					hid[j] = v * 0.5 * (1 + math.Erf(v/math.Sqrt2))
				}
				o := dense(blk.FC2.W.Data, bias(blk.FC2.B), hid, d)
				for j := range d {
					z[i][j] += o[j]
				}
			}
		}
		// (4) final LayerNorm of the class token (or the token mean), head.
		var y []float64
		if c.ClassToken() {
			y = layerNorm(m.Norm.G.Data, m.Norm.B.Data, z[0])
		} else {
			y = make([]float64, d)
			for i := range t {
				n := layerNorm(m.Norm.G.Data, m.Norm.B.Data, z[i])
				for j := range d {
					y[j] += n[j] / float64(t)
				}
			}
		}
		out = append(out, dense(m.Head.W.Data, bias(m.Head.B), y, c.Classes))
	}
	return out
}

// TestAgainstReference runs the optimised inference paths on awkward
// shapes (50, 197 and 1 tokens; widths that are not multiples of 16) and
// compares them with referenceForward: float32 directly and with packed
// weights within 1e-4, bf16 within a tolerance set by its 8-bit mantissa.
func TestAgainstReference(t *testing.T) { kernelpathtest.Run(t, testAgainstReference) }

func testAgainstReference(t *testing.T) {
	for _, c := range []Config{
		{ImageHeight: 28, ImageWidth: 28, Channels: 1, Patch: 4, Dim: 24, Depth: 2, Heads: 3, MLPDim: 40, Classes: 7},
		{ImageHeight: 56, ImageWidth: 56, Channels: 3, Patch: 4, Dim: 40, Depth: 1, Heads: 5, MLPDim: 72, Classes: 10},
		{ImageHeight: 8, ImageWidth: 8, Channels: 3, Patch: 8, Dim: 20, Depth: 2, Heads: 2, MLPDim: 36, Classes: 5, Pool: "gap"},
		{ImageHeight: 32, ImageWidth: 48, Channels: 3, Patch: 16, Dim: 64, Depth: 2, Heads: 4, MLPDim: 256, Classes: 1000, NoQKVBias: true},
	} {
		m, err := New(c, 11)
		if err != nil {
			t.Fatal(err)
		}
		// Non-zero head and biases so every term shows in the logits.
		r := rand.New(rand.NewPCG(5, 6))
		for _, p := range m.Params() {
			if p == m.Head.W || p == m.Head.B || len(p.Shape) == 1 {
				for i := range p.Data {
					p.Data[i] += float32(0.2 * r.NormFloat64())
				}
			}
		}
		for _, batch := range []int{1, 3} {
			x := make([]float32, batch*c.Channels*c.ImageHeight*c.ImageWidth)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			want := referenceForward(m, x, batch)
			for _, mode := range []string{"fp32", "fp32-packed", "bf16"} {
				t.Run(fmt.Sprintf("tokens=%d/dim=%d/batch=%d/%s", c.Tokens(), c.Dim, batch, mode), func(t *testing.T) {
					tol := 1e-4
					switch mode {
					case "fp32":
						m.UnpackWeights()
					case "fp32-packed":
						m.PackWeights(kernels.F32)
					case "bf16":
						m.PackWeights(kernels.BF16)
						tol = 3e-2
					}
					defer m.UnpackWeights()
					got, err := m.Predict(x, batch)
					if err != nil {
						t.Fatal(err)
					}
					for b := range batch {
						scale := 0.0
						for _, v := range want[b] {
							scale = max(scale, math.Abs(v))
						}
						for k, w := range want[b] {
							if diff := math.Abs(float64(got[b*c.Classes+k]) - w); diff > tol*scale {
								t.Fatalf("image %d logit %d = %v, reference %v (|diff| %.3g > %.0e of the largest logit %.3g)", b, k, got[b*c.Classes+k], w, diff, tol, scale)
							}
						}
					}
				})
			}
		}
	}
}
