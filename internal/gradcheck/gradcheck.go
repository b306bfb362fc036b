// Package gradcheck compares analytic gradients with central finite
// differences; every Backward in vit is tested with it.
package gradcheck

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Check perturbs each of up to maxProbes entries of x (chosen at random,
// all of them when x is small) by ±eps, evaluates loss, and compares
// (loss(x+eps) − loss(x−eps))/(2·eps) with analytic[i]. It fails t when the
// difference exceeds tol·max(1, |numeric|, |analytic|).
func Check(t testing.TB, name string, x, analytic []float32, loss func() float64, eps, tol float64, maxProbes int) {
	t.Helper()
	if len(x) != len(analytic) {
		t.Fatalf("%s: %d values but %d gradients", name, len(x), len(analytic))
	}
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	if maxProbes > 0 && len(idx) > maxProbes {
		rng := rand.New(rand.NewPCG(1, uint64(len(x))))
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		idx = idx[:maxProbes]
	}
	bad := 0
	for _, i := range idx {
		orig := x[i]
		x[i] = orig + float32(eps)
		lp := loss()
		x[i] = orig - float32(eps)
		lm := loss()
		x[i] = orig
		num := (lp - lm) / (2 * eps)
		got := float64(analytic[i])
		scale := math.Max(1, math.Max(math.Abs(num), math.Abs(got)))
		if math.Abs(num-got) > tol*scale || math.IsNaN(got) {
			if bad < 5 {
				t.Errorf("%s[%d]: analytic %.6g, numeric %.6g", name, i, got, num)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d probed gradients disagree", name, bad, len(idx))
	}
}

// Dot returns Σ a_i·b_i in float64: a scalar loss from an output and a fixed
// random upstream gradient.
func Dot(a, b []float32) float64 {
	var s float64
	for i, v := range a {
		s += float64(v) * float64(b[i])
	}
	return s
}

// Random fills a new slice of n values uniform in [-scale, scale).
func Random(rng *rand.Rand, n int, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = (2*rng.Float32() - 1) * scale
	}
	return x
}
