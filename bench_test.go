package vit

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/vitgo/vit/nn"
)

// BenchmarkTrainStep measures forward + backward of the reference small ViT
// (28×28, patch 4, dim 128, depth 6, 4 heads, MLP 512) at batch 128, with
// the last block computing the class token alone (classBlock) and, for
// comparison, computing every token:
//
//	go test -run - -bench TrainStep -count 10 . | benchstat -col /last -
func BenchmarkTrainStep(b *testing.B) {
	for _, shortcut := range []bool{true, false} {
		b.Run(map[bool]string{true: "last=class", false: "last=all"}[shortcut], func(b *testing.B) {
			defer func() { classShortcut = true }()
			classShortcut = shortcut
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
		})
	}
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
