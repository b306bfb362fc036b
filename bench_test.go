package vit

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/vitgo/vit/internal/alternate"
	"github.com/vitgo/vit/nn"
)

// referenceStep returns a training step (forward + backward) of the
// reference small ViT (28×28, patch 4, dim 128, depth 6, 4 heads, MLP 512)
// at batch 128 on random images.
func referenceStep(b *testing.B) func() {
	c := Config{ImageHeight: 28, ImageWidth: 28, Channels: 1, Patch: 4, Dim: 128, Depth: 6, Heads: 4, MLPDim: 512, Classes: 10}
	m, err := New(c, 1)
	if err != nil {
		b.Fatal(err)
	}
	batch := 128
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, batch*28*28)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	labels := make([]int, batch)
	dl := make([]float32, batch*10)
	ws := m.NewWorkspace(batch, true)
	return func() {
		logits, _ := m.Forward(ws, x, batch)
		nn.CrossEntropy(dl, logits, labels, 10, 0)
		m.ZeroGrad()
		m.Backward(ws, dl, batch)
	}
}

// BenchmarkTrainStep measures a training step of the reference small ViT
// at batch 128 (see referenceStep).
func BenchmarkTrainStep(b *testing.B) {
	step := referenceStep(b)
	b.ResetTimer()
	for range b.N {
		step()
	}
	b.ReportMetric(float64(b.N*128)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkClassShortcut measures how much faster a training step of the
// reference small ViT is with the last block computing the class token
// alone (classBlock) than with it computing every token. The machine's
// speed drifts over seconds, so each iteration alternates 150 ms bursts of
// both and the benchmark reports the median ratio of the burst rates:
//
//	go test -run - -bench ClassShortcut -benchtime 20x .
func BenchmarkClassShortcut(b *testing.B) {
	defer func() { classShortcut = true }()
	step := referenceStep(b)
	alternate.Speedup(b,
		func() { classShortcut = false; step() },
		func() { classShortcut = true; step() })
}

// BenchmarkPredict measures inference of the paper's models at 224×224:
// ViT-Ti/16 at batch 1 (latency) and ViT-B/16 at batch 16 (throughput).
func BenchmarkPredict(b *testing.B) {
	for _, bc := range []struct {
		preset string
		batch  int
	}{{"Ti/16", 1}, {"S/16", 16}, {"B/16", 16}} {
		b.Run(fmt.Sprintf("%s/batch=%d", bc.preset, bc.batch), func(b *testing.B) {
			c, err := Preset(bc.preset, 224, 3, 1000)
			if err != nil {
				b.Fatal(err)
			}
			m, err := New(c, 1)
			if err != nil {
				b.Fatal(err)
			}
			x := make([]float32, bc.batch*3*224*224)
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			b.ResetTimer()
			for range b.N {
				if _, err := m.Predict(x, bc.batch); err != nil {
					b.Fatal(err)
				}
			}
			ips := float64(b.N*bc.batch) / b.Elapsed().Seconds()
			b.ReportMetric(ips, "images/s")
			b.ReportMetric(ips*float64(c.FLOPs())/1e9, "GFLOP/s")
		})
	}
}
