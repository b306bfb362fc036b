package train

import (
	"slices"
	"testing"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/kernels"
)

// gradientsWith computes the gradients of one step with reps replicas while
// the kernels believe the machine has workers cores.
func gradientsWith(t *testing.T, c vit.Config, batch, reps, workers int) [][]float32 {
	t.Helper()
	defer func(old int) { kernels.Workers = old }(kernels.Workers)
	kernels.Workers = workers
	m, x, labels := gradientCase(t, c, batch)
	g := NewGradients(m, batch, reps)
	if _, _, err := g.Compute(x, Targets{Labels: labels, Smoothing: 0.1}, 1, 0); err != nil {
		t.Fatal(err)
	}
	var out [][]float32
	for _, p := range m.Params() {
		out = append(out, append([]float32(nil), p.Grad...))
	}
	return out
}

func sameGradients(a, b [][]float32) bool {
	return slices.EqualFunc(a, b, func(x, y []float32) bool { return slices.Equal(x, y) })
}

// TestGradientsCoreCount holds Gradients' doc to what it says: with two or
// more replicas a step's gradients are bit-identical whatever the number of
// cores; with one they depend on it (the products split their sums among
// the cores) but not on scheduling.
func TestGradientsCoreCount(t *testing.T) {
	c := vit.Config{ImageHeight: 28, ImageWidth: 28, Channels: 1, Classes: 10, Patch: 4, Dim: 64, Depth: 2, Heads: 4, MLPDim: 128}
	for _, reps := range []int{2, 3} {
		base := gradientsWith(t, c, 64, reps, 1)
		for _, w := range []int{2, 3, 8} {
			if !sameGradients(base, gradientsWith(t, c, 64, reps, w)) {
				t.Errorf("%d replicas: the gradients on %d cores differ from those on 1", reps, w)
			}
		}
	}
	one := gradientsWith(t, c, 64, 1, 1)
	two := gradientsWith(t, c, 64, 1, 2)
	if sameGradients(one, two) {
		t.Log("one replica: 1 and 2 cores happened to agree; the doc's caveat is conservative for this model")
	}
	for range 3 {
		if !sameGradients(two, gradientsWith(t, c, 64, 1, 2)) {
			t.Fatal("one replica on 2 cores: the same step gave different gradients")
		}
	}
}
