package train

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/internal/alternate"
	"github.com/vitgo/vit/kernels"
)

// gradientCase is a small model and a batch of random images for it.
func gradientCase(t testing.TB, c vit.Config, batch int) (*vit.Model, []float32, []int) {
	t.Helper()
	m, err := vit.New(c, 7)
	if err != nil {
		t.Fatal(err)
	}
	// A zero head (the official initialisation) would give every layer
	// below it a zero gradient: give it weights.
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range m.Head.W.Data {
		m.Head.W.Data[i] = float32(rng.NormFloat64()) * 0.1
	}
	x := make([]float32, batch*c.Channels*c.ImageHeight*c.ImageWidth)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	labels := make([]int, batch)
	for i := range labels {
		labels[i] = rng.IntN(c.Classes)
	}
	return m, x, labels
}

// TestGradientsReplicas checks that splitting a batch among replicas gives
// the loss and gradient of the whole batch (to rounding), that the
// replicas' weights are the model's own, and that a step is deterministic
// and allocates no buffers.
func TestGradientsReplicas(t *testing.T) {
	plain := vit.Config{ImageHeight: 16, ImageWidth: 12, Channels: 1, Classes: 5, Patch: 4, Dim: 16, Depth: 2, Heads: 2, MLPDim: 32}
	hybrid := plain
	hybrid.Stem, hybrid.Patch = []vit.StemConv{{Channels: 8, Kernel: 3, Stride: 2, Norm: true}}, 2
	for _, tc := range []struct {
		name  string
		c     vit.Config
		batch int
	}{{"plain", plain, 10}, {"hybrid", hybrid, 7}} {
		t.Run(tc.name, func(t *testing.T) {
			m, x, labels := gradientCase(t, tc.c, tc.batch)
			one := NewGradients(m, tc.batch, 1)
			wantLoss, wantRight, err := one.Compute(x, Targets{Labels: labels, Smoothing: 0.1}, 1, 0)
			if err != nil {
				t.Fatal(err)
			}
			var want [][]float32
			for _, p := range m.Params() {
				want = append(want, append([]float32(nil), p.Grad...))
			}
			for _, reps := range []int{2, 3, tc.batch} {
				g := NewGradients(m, tc.batch, reps)
				if g.Replicas() != reps {
					t.Fatalf("%d replicas asked, %d made", reps, g.Replicas())
				}
				loss, right, err := g.Compute(x, Targets{Labels: labels, Smoothing: 0.1}, 1, 0)
				if err != nil {
					t.Fatal(err)
				}
				if math.Abs(loss-wantLoss) > 1e-6*wantLoss || right != wantRight {
					t.Errorf("%d replicas: loss %v, %d right; one model: %v, %d", reps, loss, right, wantLoss, wantRight)
				}
				for i, p := range m.Params() {
					var scale float64
					for _, v := range want[i] {
						scale = max(scale, math.Abs(float64(v)))
					}
					for j, v := range p.Grad {
						if d := math.Abs(float64(v - want[i][j])); d > 1e-4*scale+1e-9 {
							t.Fatalf("%d replicas: %s grad[%d] = %v, one model %v", reps, p.Name, j, v, want[i][j])
						}
					}
				}
				first := m.Params()[0].Grad[0]
				if _, _, err := g.Compute(x, Targets{Labels: labels, Smoothing: 0.1}, 1, 0); err != nil {
					t.Fatal(err)
				}
				if again := m.Params()[0].Grad[0]; again != first {
					t.Errorf("%d replicas: the same step gave %v, then %v", reps, first, again)
				}
				// What remains is the kernels' goroutine hand-off, as in
				// vit's TestTrainStepAllocations, once per replica.
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				for range 5 {
					g.Compute(x, Targets{Labels: labels, Smoothing: 0.1}, 1, 0)
				}
				runtime.ReadMemStats(&after)
				if perStep := (after.TotalAlloc - before.TotalAlloc) / 5; perStep > uint64(reps)*(64<<10) {
					t.Errorf("%d replicas: a step allocates %d bytes; buffers should be reused", reps, perStep)
				}
			}
		})
	}
}

// TestGradientsMixed checks a mixed batch (data.Mix): its loss and gradient
// are λ times those toward the images' own labels plus 1−λ times those
// toward their partners' (the loss is linear in the target), whether one
// model computes the batch or replicas whose shares split the pairs.
func TestGradientsMixed(t *testing.T) {
	c := vit.Config{ImageHeight: 8, ImageWidth: 8, Channels: 1, Classes: 4, Patch: 4, Dim: 8, Depth: 1, Heads: 2, MLPDim: 16}
	const batch, lambda = 7, 0.3
	m, x, labels := gradientCase(t, c, batch)
	partners := slices.Clone(labels)
	slices.Reverse(partners)
	gradOf := func(g *Gradients, tg Targets) (float64, [][]float32) {
		loss, _, err := g.Compute(x, tg, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		var grads [][]float32
		for _, p := range m.Params() {
			grads = append(grads, slices.Clone(p.Grad))
		}
		return loss, grads
	}
	one := NewGradients(m, batch, 1)
	lossA, gradA := gradOf(one, Targets{Labels: labels, Smoothing: 0.1})
	lossB, gradB := gradOf(one, Targets{Labels: partners, Smoothing: 0.1})
	mixed := Targets{Labels: labels, Smoothing: 0.1, Mixed: true, Lambda: lambda}
	for _, reps := range []int{1, 3} {
		loss, grad := gradOf(NewGradients(m, batch, reps), mixed)
		if want := lambda*lossA + (1-lambda)*lossB; math.Abs(loss-want) > 1e-5*want {
			t.Errorf("%d replicas: mixed loss %v, want λ·%v + (1−λ)·%v = %v", reps, loss, lossA, lossB, want)
		}
		for i, p := range m.Params() {
			for j, v := range grad[i] {
				want := lambda*gradA[i][j] + (1-lambda)*gradB[i][j]
				if d := math.Abs(float64(v - want)); d > 1e-4*math.Abs(float64(want))+1e-6 {
					t.Fatalf("%d replicas: %s grad[%d] = %v, want %v", reps, p.Name, j, v, want)
				}
			}
		}
	}
}

func TestReplicaSharesWeights(t *testing.T) {
	c := vit.Config{ImageHeight: 8, ImageWidth: 8, Channels: 1, Classes: 3, Patch: 4, Dim: 8, Depth: 1, Heads: 2, MLPDim: 16,
		Stem: []vit.StemConv{{Channels: 4, Kernel: 3, Stride: 1, Norm: true}}}
	m, err := vit.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	m.FreezeBody(true)
	r := m.Replica()
	mp, rp := m.Params(), r.Params()
	if len(mp) != len(rp) {
		t.Fatalf("replica has %d tensors, model %d", len(rp), len(mp))
	}
	for i := range mp {
		if mp[i].Name != rp[i].Name || &mp[i].Data[0] != &rp[i].Data[0] || &mp[i].Grad[0] == &rp[i].Grad[0] || mp[i].Frozen != rp[i].Frozen {
			t.Errorf("tensor %d: model %s, replica %s: want the same data and flags, separate gradients", i, mp[i].Name, rp[i].Name)
		}
	}
}

func TestDefaultReplicas(t *testing.T) {
	defer func(old int) { kernels.Workers = old }(kernels.Workers)
	m, err := vit.New(vit.Config{ImageHeight: 8, ImageWidth: 8, Channels: 1, Classes: 3, Patch: 4, Dim: 8, Depth: 1, Heads: 2, MLPDim: 16}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ workers, batch, want int }{{1, 128, 1}, {2, 128, 2}, {16, 128, 16}, {16, 64, 8}, {4, 8, 1}, {4, 1, 1}} {
		kernels.Workers = tc.workers
		if got := DefaultReplicas(m, tc.batch); got != tc.want {
			t.Errorf("%d workers, batch %d: %d replicas, want %d", tc.workers, tc.batch, got, tc.want)
		}
	}
}

// BenchmarkReplicas measures how much faster one replica per core
// computes a batch's gradients than one model splitting each product among
// the cores, on the reference small ViT (batch 128) and the quick recipe's
// hybrid (batch 64). The machine's speed drifts over seconds, so each
// iteration alternates 150 ms bursts of both and the benchmark reports the
// median ratio of the burst rates:
//
//	go test -run - -bench Replicas -benchtime 30x ./train
func BenchmarkReplicas(b *testing.B) {
	stem, err := vit.ParseStem("32:3:1:ln,64:3:2:ln,128:3:2:ln")
	if err != nil {
		b.Fatal(err)
	}
	for _, mc := range []struct {
		name  string
		c     vit.Config
		batch int
	}{
		{"reference", vit.Config{ImageHeight: 28, ImageWidth: 28, Channels: 1, Classes: 10, Patch: 4, Dim: 128, Depth: 6, Heads: 4, MLPDim: 512}, 128},
		{"quick", vit.Config{ImageHeight: 28, ImageWidth: 28, Channels: 1, Classes: 10, Patch: 1, Dim: 64, Depth: 2, Heads: 4, MLPDim: 256, Stem: stem}, 64},
	} {
		b.Run("model="+mc.name, func(b *testing.B) {
			m, x, labels := gradientCase(b, mc.c, mc.batch)
			one, many := NewGradients(m, mc.batch, 1), NewGradients(m, mc.batch, kernels.Workers)
			compute := func(g *Gradients) func() {
				return func() {
					if _, _, err := g.Compute(x, Targets{Labels: labels, Smoothing: 0.1}, 1, 0); err != nil {
						b.Fatal(err)
					}
				}
			}
			alternate.Speedup(b, compute(one), compute(many))
		})
	}
}
