package text

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/vitgo/vit/kernels"
)

// BenchmarkEmbedCLIP measures text embeddings per second of a text tower
// of CLIP ViT-B's size (width 512, 12 layers, 8 heads, vocabulary 49408,
// 77 positions), random weights, 16 texts a call: "prompt" texts end at
// position 8, as "a photo of a cat." does (the causal tower stops at the
// end-of-text token), "full" texts at position 76. Run on a quiet machine:
//
//	go test ./text/ -run '^$' -bench EmbedCLIP -benchtime 20x
func BenchmarkEmbedCLIP(b *testing.B) {
	c := Config{Kind: CLIP, Vocab: 49408, Positions: 77, Dim: 512, Depth: 12, Heads: 8, MLPDim: 2048,
		Act: ActQuickGELU, Eps: 1e-5, Out: 512, EOS: 49407}
	m, err := New(c)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range [][]float32{m.TokenEmbed.Data, m.PosEmbed.Data} {
		for i := range p {
			p[i] = 0.02 * float32(rng.NormFloat64())
		}
	}
	for _, blk := range m.Blocks {
		for _, w := range [][]float32{blk.QKV.W.Data, blk.Proj.W.Data, blk.FC1.W.Data, blk.FC2.W.Data} {
			for i := range w {
				w[i] = 0.02 * float32(rng.NormFloat64())
			}
		}
	}
	const batch = 16
	for _, dt := range []kernels.DType{kernels.F32, kernels.BF16} {
		m.Pack(dt)
		for _, length := range []struct {
			name string
			eos  int
		}{{"prompt", 8}, {"full", 76}} {
			ids := make([][]int, batch)
			for i := range ids {
				ids[i] = make([]int, c.Positions)
				ids[i][0] = 49406
				for j := 1; j < length.eos; j++ {
					ids[i][j] = 1000 + rng.IntN(40000)
				}
				for j := length.eos; j < c.Positions; j++ {
					ids[i][j] = c.EOS
				}
			}
			b.Run(fmt.Sprintf("%s/%s", dt, length.name), func(b *testing.B) {
				for b.Loop() {
					if _, err := m.Embed(context.Background(), ids); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "texts/s")
			})
		}
	}
}
