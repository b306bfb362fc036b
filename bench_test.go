package vit

import (
	"math/rand/v2"
	"testing"

	"github.com/vitgo/vit/nn"
)

// BenchmarkTrainStep measures forward + backward of the reference small ViT
// (28×28, patch 4, dim 128, depth 6, 4 heads, MLP 512) at batch 128.
func BenchmarkTrainStep(b *testing.B) {
	c := Config{ImageHeight: 28, ImageWidth: 28, Channels: 1, Patch: 4, Dim: 128, Depth: 6, Heads: 4, MLPDim: 512, Classes: 10}
	m, _ := New(c, 1)
	batch := 128
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, batch*28*28)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	labels := make([]int, batch)
	dl := make([]float32, batch*10)
	ws := m.NewWorkspace(batch, true)
	b.ResetTimer()
	for range b.N {
		logits, _ := m.Forward(ws, x, batch)
		nn.CrossEntropy(dl, logits, labels, 10, 0)
		m.ZeroGrad()
		m.Backward(ws, dl, batch)
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
}
