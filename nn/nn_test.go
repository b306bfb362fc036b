package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vitgo/vit/internal/gradcheck"
	"github.com/vitgo/vit/internal/kernelpath/kernelpathtest"
)

const (
	eps = 1e-2
	tol = 2e-2
)

func TestLinearBackward(t *testing.T) { kernelpathtest.Run(t, testLinearBackward) }

func testLinearBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n, in, out := 5, 7, 3
	l := NewLinear("fc", in, out, true)
	copy(l.W.Data, gradcheck.Random(rng, in*out, 0.5))
	copy(l.B.Data, gradcheck.Random(rng, out, 0.5))
	x := gradcheck.Random(rng, n*in, 1)
	up := gradcheck.Random(rng, n*out, 1)
	y := make([]float32, n*out)
	loss := func() float64 { l.Forward(y, x, n); return gradcheck.Dot(y, up) }
	dx := make([]float32, n*in)
	l.Backward(dx, up, x, n)
	gradcheck.Check(t, "dx", x, dx, loss, eps, tol, 0)
	gradcheck.Check(t, "dW", l.W.Data, l.W.Grad, loss, eps, tol, 0)
	gradcheck.Check(t, "db", l.B.Data, l.B.Grad, loss, eps, tol, 0)
}

func TestLayerNormBackward(t *testing.T) { kernelpathtest.Run(t, testLayerNormBackward) }

func testLayerNormBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n, d := 4, 9
	ln := NewLayerNorm("ln", d, 1e-6)
	copy(ln.G.Data, gradcheck.Random(rng, d, 1))
	copy(ln.B.Data, gradcheck.Random(rng, d, 1))
	x := gradcheck.Random(rng, n*d, 2)
	up := gradcheck.Random(rng, n*d, 1)
	y := make([]float32, n*d)
	mean, rstd := make([]float32, n), make([]float32, n)
	loss := func() float64 { ln.Forward(y, x, nil, nil, n); return gradcheck.Dot(y, up) }
	ln.Forward(y, x, mean, rstd, n)
	dx := make([]float32, n*d)
	ln.Backward(dx, up, x, mean, rstd, n)
	gradcheck.Check(t, "dx", x, dx, loss, 1e-3, tol, 0)
	gradcheck.Check(t, "dG", ln.G.Data, ln.G.Grad, loss, eps, tol, 0)
	gradcheck.Check(t, "dB", ln.B.Data, ln.B.Grad, loss, eps, tol, 0)

	// Backward adds into dx.
	dx2 := make([]float32, n*d)
	for i := range dx2 {
		dx2[i] = 1
	}
	ln.Backward(dx2, up, x, mean, rstd, n)
	for i := range dx {
		if math.Abs(float64(dx2[i]-1-dx[i])) > 1e-5 {
			t.Fatalf("Backward does not accumulate: dx2[%d]=%v, want %v", i, dx2[i], 1+dx[i])
		}
	}
}

func TestGELU(t *testing.T) { kernelpathtest.Run(t, testGELU) }

func testGELU(t *testing.T) {
	for _, x := range []float64{-6, -3, -1, -0.5, 0, 0.3, 1, 2.5, 7} {
		want := 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
		y := []float32{float32(x)}
		GELU(y, y)
		if math.Abs(float64(y[0])-want) > 1e-6*math.Max(1, math.Abs(want)) {
			t.Errorf("GELU(%v) = %v, want %v", x, y[0], want)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	x := gradcheck.Random(rng, 50, 4)
	up := gradcheck.Random(rng, 50, 1)
	y := make([]float32, 50)
	dx := make([]float32, 50)
	GELUBackward(dx, up, x)
	gradcheck.Check(t, "dx", x, dx, func() float64 { GELU(y, x); return gradcheck.Dot(y, up) }, 1e-3, tol, 0)
}

func TestAttentionBackward(t *testing.T) { kernelpathtest.Run(t, testAttentionBackward) }

func testAttentionBackward(t *testing.T) {
	for _, dropout := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(7, 8))
		batch, tokens, heads, dh := 2, 5, 3, 4
		a := Attention{Heads: heads, Dim: heads * dh}
		qkv := gradcheck.Random(rng, batch*tokens*3*a.Dim, 1)
		up := gradcheck.Random(rng, batch*tokens*a.Dim, 1)
		out := make([]float32, batch*tokens*a.Dim)
		pn := batch * heads * tokens * tokens
		probs, dprobs := make([]float32, pn), make([]float32, pn)
		var mask, dropped []float32
		if dropout {
			mask, dropped = make([]float32, pn), make([]float32, pn)
			DropoutMask(mask, 0.3, rng)
		}
		loss := func() float64 {
			a.Forward(out, probs, dropped, mask, qkv, batch, tokens)
			return gradcheck.Dot(out, up)
		}
		loss()
		for r := 0; r < batch*heads*tokens; r++ {
			var s float64
			for _, v := range probs[r*tokens : (r+1)*tokens] {
				s += float64(v)
			}
			if math.Abs(s-1) > 1e-5 {
				t.Fatalf("row %d of probs sums to %v", r, s)
			}
		}
		dqkv := make([]float32, len(qkv))
		a.Backward(dqkv, dprobs, nil, up, qkv, probs, dropped, mask, batch, tokens)
		gradcheck.Check(t, "dqkv", qkv, dqkv, loss, 1e-3, tol, 0)
	}
}

func TestCrossEntropy(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	batch, classes := 4, 6
	logits := gradcheck.Random(rng, batch*classes, 3)
	labels := []int{0, 5, 2, 2}
	for _, smooth := range []float32{0, 0.1} {
		d := make([]float32, len(logits))
		CrossEntropy(d, logits, labels, classes, smooth)
		gradcheck.Check(t, "dlogits", logits, d, func() float64 {
			l, _ := CrossEntropy(nil, logits, labels, classes, smooth)
			return l
		}, 1e-3, 1e-2, 0)
	}
	// Mixed targets (Mixup, CutMix): finite differences, and linearity in
	// the target.
	others := []int{3, 5, 0, 1}
	for _, lambda := range []float32{0.25, 0.8} {
		d := make([]float32, len(logits))
		loss, right := MixedCrossEntropy(d, logits, labels, others, lambda, classes, 0.1)
		gradcheck.Check(t, "mixed dlogits", logits, d, func() float64 {
			l, _ := MixedCrossEntropy(nil, logits, labels, others, lambda, classes, 0.1)
			return l
		}, 1e-3, 1e-2, 0)
		la, ra := CrossEntropy(nil, logits, labels, classes, 0.1)
		lb, _ := CrossEntropy(nil, logits, others, classes, 0.1)
		if want := float64(lambda)*la + float64(1-lambda)*lb; math.Abs(loss-want) > 1e-6 || right != ra {
			t.Errorf("λ %v: mixed loss %v (%d right), want %v (%d right)", lambda, loss, right, want, ra)
		}
	}
	// Uniform logits give log(classes) whatever the smoothing.
	l, _ := CrossEntropy(nil, make([]float32, classes), []int{1}, classes, 0.1)
	if math.Abs(l-math.Log(float64(classes))) > 1e-6 {
		t.Fatalf("loss of uniform logits = %v, want log %d", l, classes)
	}
}

// TestAttentionBlocked checks the inference path that never materialises
// the attention matrix against the one that does, across block boundaries.
func TestAttentionBlocked(t *testing.T) { kernelpathtest.Run(t, testAttentionBlocked) }

func testAttentionBlocked(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, tokens := range []int{1, 31, 33, 50, 197} {
		batch, heads, dh := 2, 3, 8
		a := Attention{Heads: heads, Dim: heads * dh}
		qkv := gradcheck.Random(rng, batch*tokens*3*a.Dim, 2)
		want := make([]float32, batch*tokens*a.Dim)
		got := make([]float32, len(want))
		a.Forward(want, make([]float32, batch*heads*tokens*tokens), nil, nil, qkv, batch, tokens)
		a.Forward(got, nil, nil, nil, qkv, batch, tokens)
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-5 {
				t.Fatalf("tokens %d: out[%d] = %v blocked, %v materialised", tokens, i, got[i], want[i])
			}
		}
	}
}
