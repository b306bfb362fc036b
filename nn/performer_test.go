package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/vitgo/vit/internal/gradcheck"
	"github.com/vitgo/vit/internal/kernelpath/kernelpathtest"
	"github.com/vitgo/vit/kernels"
)

func TestPerformerBackward(t *testing.T) { kernelpathtest.Run(t, testPerformerBackward) }

func testPerformerBackward(t *testing.T) {
	for _, tc := range []struct{ batch, tokens, heads, dh, m int }{
		{2, 5, 3, 4, 8},
		{1, 17, 2, 8, 16},
		{2, 17, 1, 4, 16},
		{1, 5, 2, 8, 8},
		{1, 5, 1, 4, 6}, // a partial block of W
	} {
		rng := rand.New(rand.NewPCG(11, uint64(tc.tokens*tc.m)))
		p := NewPerformer("attn", tc.heads, tc.heads*tc.dh, tc.m, 42)
		qkv := gradcheck.Random(rng, tc.batch*tc.tokens*3*p.Dim, 1)
		up := gradcheck.Random(rng, tc.batch*tc.tokens*p.Dim, 1)
		out := make([]float32, tc.batch*tc.tokens*p.Dim)
		acts := p.NewActs(tc.batch, tc.tokens)
		loss := func() float64 {
			p.Forward(out, acts, qkv, tc.batch, tc.tokens)
			return gradcheck.Dot(out, up)
		}
		loss()
		dqkv := make([]float32, len(qkv))
		for i := range dqkv {
			dqkv[i] = float32(math.NaN()) // Backward must overwrite
		}
		p.Backward(dqkv, up, acts, qkv, tc.batch, tc.tokens)
		gradcheck.Check(t, "dqkv", qkv, dqkv, loss, 1e-3, tol, 300)
	}
}

// performerError returns ‖performer − softmax‖/‖softmax‖ over a batch of
// random q, k, v, with features features and W drawn from seed.
func performerError(features int, seed uint64, qkv []float32, batch, tokens, heads, dh int) float64 {
	dim := heads * dh
	a := Attention{Heads: heads, Dim: dim}
	want := make([]float32, batch*tokens*dim)
	a.Forward(want, make([]float32, batch*heads*tokens*tokens), nil, nil, qkv, batch, tokens)
	p := NewPerformer("attn", heads, dim, features, seed)
	got := make([]float32, len(want))
	p.Forward(got, p.NewActs(batch, tokens), qkv, batch, tokens)
	var num, den float64
	for i, w := range want {
		d := float64(got[i] - w)
		num += d * d
		den += float64(w) * float64(w)
	}
	return math.Sqrt(num / den)
}

func TestPerformerApproximatesSoftmax(t *testing.T) {
	kernelpathtest.Run(t, testPerformerApproximatesSoftmax)
}

func testPerformerApproximatesSoftmax(t *testing.T) {
	batch, tokens, heads, dh := 2, 64, 2, 16
	rng := rand.New(rand.NewPCG(13, 14))
	// q, k ~ N(0, σ²I) with σ = 1/2, so that ‖q'‖² = ‖k'‖² ≈ 1 on average
	// (moderate norms: the estimator's variance grows like exp(‖q'+k'‖²));
	// v ~ N(0, I).
	qkv := make([]float32, batch*tokens*3*heads*dh)
	for i := range qkv {
		qkv[i] = float32(rng.NormFloat64())
		if (i/(heads*dh))%3 < 2 {
			qkv[i] *= 0.5
		}
	}
	prev := math.Inf(1)
	for _, m := range []int{16, 64, 256, 1024} {
		var sum float64
		const seeds = 4
		for s := uint64(0); s < seeds; s++ {
			sum += performerError(m, 100+s, qkv, batch, tokens, heads, dh)
		}
		e := sum / seeds
		t.Logf("m=%4d: relative error %.4f", m, e)
		if e >= prev {
			t.Errorf("error did not decrease at m=%d: %.4f after %.4f", m, e, prev)
		}
		prev = e
	}
	if prev > 0.1 {
		t.Errorf("relative error at m=1024 is %.4f, want < 0.1", prev)
	}
}

func TestPerformerOrthogonalFeatures(t *testing.T) {
	dh, m := 8, 21 // two full blocks and a partial one
	p := NewPerformer("attn", 2, 2*dh, m, 7)
	row := func(i int) []float32 { return p.W.Data[i*dh : (i+1)*dh] }
	dot := func(a, b []float32) float64 {
		var s float64
		for i, v := range a {
			s += float64(v) * float64(b[i])
		}
		return s
	}
	var norms []float64
	for i := 0; i < m; i++ {
		ni := math.Sqrt(dot(row(i), row(i)))
		norms = append(norms, ni)
		for j := i - i%dh; j < i; j++ {
			nj := math.Sqrt(dot(row(j), row(j)))
			if c := dot(row(i), row(j)) / (ni * nj); math.Abs(c) > 1e-5 {
				t.Errorf("rows %d and %d of a block have cosine %.3g", i, j, c)
			}
		}
	}
	// Norms are χ(dh): distinct, around √dh.
	mean := 0.0
	for _, n := range norms {
		mean += n / float64(m)
	}
	if slices.Min(norms) == slices.Max(norms) || math.Abs(mean-math.Sqrt(float64(dh))) > 1 {
		t.Errorf("row norms %v: want χ(%d)-distributed, mean near %.2f", norms, dh, math.Sqrt(float64(dh)))
	}
	if DefaultFeatures(64) != 266 || DefaultFeatures(1) != 1 {
		t.Errorf("DefaultFeatures(64) = %d, DefaultFeatures(1) = %d", DefaultFeatures(64), DefaultFeatures(1))
	}
	if got, want := p.FLOPs(10), int64(2*4*10*m*(2*dh+1)); got != want {
		t.Errorf("FLOPs(10) = %d, want %d", got, want)
	}
}

func TestPerformerDeterministic(t *testing.T) { kernelpathtest.Run(t, testPerformerDeterministic) }

func testPerformerDeterministic(t *testing.T) {
	a, b := NewPerformer("attn", 3, 24, 20, 5), NewPerformer("attn", 3, 24, 20, 5)
	if !slices.Equal(a.W.Data, b.W.Data) {
		t.Fatal("same seed, different W")
	}
	w := slices.Clone(a.W.Data)
	a.Redraw(6)
	if slices.Equal(a.W.Data, w) {
		t.Fatal("Redraw with a new seed kept W")
	}
	a.Redraw(5)
	if !slices.Equal(a.W.Data, w) {
		t.Fatal("Redraw(5) differs from NewPerformer(…, 5)")
	}
	// Same input, same output, whatever the goroutine split.
	rng := rand.New(rand.NewPCG(1, 1))
	batch, tokens := 3, 9
	qkv := gradcheck.Random(rng, batch*tokens*3*a.Dim, 1)
	up := gradcheck.Random(rng, batch*tokens*a.Dim, 1)
	run := func() ([]float32, []float32) {
		out, dqkv := make([]float32, batch*tokens*a.Dim), make([]float32, len(qkv))
		acts := a.NewActs(batch, tokens)
		a.Forward(out, acts, qkv, batch, tokens)
		a.Backward(dqkv, up, acts, qkv, batch, tokens)
		return out, dqkv
	}
	o1, d1 := run()
	o2, d2 := run()
	if !slices.Equal(o1, o2) || !slices.Equal(d1, d2) {
		t.Fatal("Forward/Backward not deterministic")
	}
}

func TestPerformerNoAlloc(t *testing.T) { kernelpathtest.Run(t, testPerformerNoAlloc) }

func testPerformerNoAlloc(t *testing.T) {
	if performerRace {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	p := NewPerformer("attn", 4, 64, 32, 1)
	rng := rand.New(rand.NewPCG(2, 2))
	batch, tokens := 2, 33
	qkv := gradcheck.Random(rng, batch*tokens*3*p.Dim, 1)
	up := gradcheck.Random(rng, batch*tokens*p.Dim, 1)
	out, dqkv := make([]float32, batch*tokens*p.Dim), make([]float32, len(qkv))
	acts := p.NewActs(batch, tokens)
	step := func() {
		p.Forward(out, acts, qkv, batch, tokens)
		p.Backward(dqkv, up, acts, qkv, batch, tokens)
	}
	step()
	n := testing.AllocsPerRun(20, step)
	// The only allocations are ParallelFor's (its closure, WaitGroup and
	// goroutines: 1 per call with one worker, 2·Workers with several), one
	// call in Forward and one in Backward; measure them alone.
	var sink atomic.Int64
	base := testing.AllocsPerRun(20, func() {
		for _, n := range []int{batch * p.Heads, min(kernels.Workers, batch*p.Heads)} {
			kernels.ParallelFor(n, 1, func(lo, hi int) { sink.Add(int64(hi - lo + n)) })
		}
	})
	t.Logf("Forward+Backward: %v allocations per step; ParallelFor alone: %v (Workers=%d)", n, base, kernels.Workers)
	if n > base {
		t.Errorf("Forward+Backward allocate %v times per step, more than ParallelFor's %v", n, base)
	}
}
