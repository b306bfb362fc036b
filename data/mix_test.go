package data

import (
	"math"
	"slices"
	"testing"
)

// mixBatch is a batch of n images [c, h, w] whose every value names its
// image: image i holds i+1 everywhere, so a mixed value tells its sources.
func mixBatch(n, c, h, w int) []float32 {
	x := make([]float32, n*c*h*w)
	for i := range x {
		x[i] = float32(i/(c*h*w) + 1)
	}
	return x
}

func TestMixCutMix(t *testing.T) {
	const n, c, h, w = 5, 2, 9, 7
	m := Mix{CutMix: 1}
	var lambdas []float64
	for step := range uint64(200) {
		x := mixBatch(n, c, h, w)
		mixed, lambda := m.Apply(x, n, c, h, w, 3, step)
		if !mixed {
			t.Fatalf("step %d: CutMix with probability 1 did not mix", step)
		}
		lambdas = append(lambdas, float64(lambda))
		var box []bool // the pasted pixels of image 0, for every image
		for i := range n {
			own, partner := float32(i+1), float32(n-i)
			pasted := make([]bool, h*w)
			var count int
			for ch := range c {
				for p := range h * w {
					v := x[((i*c)+ch)*h*w+p]
					switch {
					case v == partner && partner != own:
						pasted[p] = true
						count++
					case v != own:
						t.Fatalf("step %d: image %d holds %v, from neither itself nor image %d", step, i, v, n-1-i)
					}
				}
			}
			if partner == own {
				continue // the middle image pairs with itself
			}
			if got := 1 - float32(count)/float32(c*h*w); math.Abs(float64(got-lambda)) > 1e-6 {
				t.Fatalf("step %d: image %d keeps %v of its pixels, λ = %v", step, i, got, lambda)
			}
			if box == nil {
				box = pasted
			} else if !slices.Equal(box, pasted) {
				t.Fatalf("step %d: image %d has another box than image 0", step, i)
			}
		}
		again := mixBatch(n, c, h, w)
		if _, l2 := m.Apply(again, n, c, h, w, 3, step); l2 != lambda || !slices.Equal(again, x) {
			t.Fatalf("step %d: the same seed and step mixed differently", step)
		}
	}
	// λ before clipping is Beta(1, 1), uniform; clipping the box only
	// raises it. Its mean must lie well above 0.5 yet below 1.
	mean := 0.0
	for _, l := range lambdas {
		mean += l / float64(len(lambdas))
	}
	if mean < 0.5 || mean > 0.85 || slices.Min(lambdas) > 0.3 {
		t.Errorf("CutMix λ: mean %.3f, min %.3f over %d batches; want a mean in [0.5, 0.85] and some large boxes", mean, slices.Min(lambdas), len(lambdas))
	}
}

func TestMixMixup(t *testing.T) {
	const n, c, h, w = 4, 1, 3, 3
	x := mixBatch(n, c, h, w)
	mixed, lambda := Mix{Mixup: 0.8}.Apply(x, n, c, h, w, 1, 2)
	if !mixed || lambda <= 0 || lambda >= 1 {
		t.Fatalf("Mixup: mixed %v, λ %v", mixed, lambda)
	}
	for i := range n {
		want := lambda*float32(i+1) + (1-lambda)*float32(n-i)
		for _, v := range x[i*c*h*w : (i+1)*c*h*w] {
			if math.Abs(float64(v-want)) > 1e-5 {
				t.Fatalf("image %d: %v, want λ·%d + (1−λ)·%d = %v", i, v, i+1, n-i, want)
			}
		}
	}
}

func TestMixProbability(t *testing.T) {
	const n, c, h, w = 2, 1, 4, 4
	cases := []struct {
		m        Mix
		mixed    float64 // expected share of mixed batches
		cutShare float64 // expected share of CutMix among mixed batches; -1: any
	}{
		{Mix{}, 0, -1},
		{Mix{CutMix: 1, Prob: 0.3}, 0.3, 1},
		{Mix{Mixup: 0.2, CutMix: 1}, 1, 0.5},
		{Mix{Mixup: 0.2, CutMix: 1, SwitchProb: 0.8}, 1, 0.8},
	}
	for _, tc := range cases {
		const steps = 4000
		var mixed, cut float64
		for step := range uint64(steps) {
			x := mixBatch(n, c, h, w)
			ok, lambda := tc.m.Apply(x, n, c, h, w, 9, step)
			if !ok {
				if lambda != 1 || !slices.Equal(x, mixBatch(n, c, h, w)) {
					t.Fatalf("%+v: an unmixed batch changed or has λ %v", tc.m, lambda)
				}
				continue
			}
			mixed++
			// CutMix moves whole values (1 or 2); Mixup's blend is neither.
			if x[0] == 1 || x[0] == 2 {
				cut++
			}
		}
		if got := mixed / steps; math.Abs(got-tc.mixed) > 0.03 {
			t.Errorf("%+v: %.3f of batches mixed, want %.2f", tc.m, got, tc.mixed)
		}
		if tc.cutShare >= 0 && mixed > 0 {
			if got := cut / mixed; math.Abs(got-tc.cutShare) > 0.03 {
				t.Errorf("%+v: %.3f of mixed batches were CutMix, want %.2f", tc.m, got, tc.cutShare)
			}
		}
	}
}

func TestBetaSample(t *testing.T) {
	for _, alpha := range []float64{0.2, 1, 4} {
		const draws = 20000
		var sum, sq float64
		for i := range uint64(draws) {
			v := betaSample(alpha, seedOf(i))
			if !(v >= 0 && v <= 1) {
				t.Fatalf("Beta(%v, %v) drew %v", alpha, alpha, v)
			}
			sum += v
			sq += v * v
		}
		mean := sum / draws
		variance := sq/draws - mean*mean
		want := 1 / (4 * (2*alpha + 1)) // the variance of Beta(α, α)
		if math.Abs(mean-0.5) > 0.01 || math.Abs(variance-want) > 0.05*want {
			t.Errorf("Beta(%v, %v): mean %.4f, variance %.4f; want 0.5 and %.4f", alpha, alpha, mean, variance, want)
		}
	}
}

func TestMixValidate(t *testing.T) {
	for _, m := range []Mix{{CutMix: -1}, {Mixup: float32(math.NaN())}, {CutMix: 1, Prob: 1.5}, {Mixup: 1, SwitchProb: -0.1}} {
		if m.Validate() == nil {
			t.Errorf("%+v: no error", m)
		}
	}
	if err := (Mix{Mixup: 0.8, CutMix: 1, Prob: 0.5}).Validate(); err != nil {
		t.Error(err)
	}
}
