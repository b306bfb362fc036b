package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vitgo/vit/internal/gradcheck"
	"github.com/vitgo/vit/internal/kernelpath/kernelpathtest"
	"github.com/vitgo/vit/kernels"
)

// TestLinearFused checks the fused forms of a dense layer against the
// layer followed by the separate op, bit for bit: ForwardAct for every
// activation, ForwardResidual, their Infer forms with and without packed
// weights, and BackwardAct.
func TestLinearFused(t *testing.T) { kernelpathtest.Run(t, testLinearFused) }

func testLinearFused(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sz := range []struct{ n, in, out int }{{5, 7, 3}, {197, 64, 96}, {400, 96, 37}} {
		n, in, out := sz.n, sz.in, sz.out
		l := NewLinear("fc", in, out, true)
		copy(l.W.Data, gradcheck.Random(rng, in*out, 0.5))
		copy(l.B.Data, gradcheck.Random(rng, out, 0.5))
		x := gradcheck.Random(rng, n*in, 1)
		skip := gradcheck.Random(rng, n*out, 1)

		wantY := make([]float32, n*out)
		l.Forward(wantY, x, n)
		wantSum := append([]float32(nil), wantY...)
		kernels.AddTo(wantSum, skip)

		for _, packed := range []bool{false, true} {
			if packed {
				l.Pack(kernels.F32)
			}
			y, act := make([]float32, n*out), make([]float32, n*out)
			for _, kind := range acts {
				wantAct := make([]float32, n*out)
				Activate(kind, wantAct, wantY)
				l.ForwardAct(kind, act, y, x, n)
				same(t, sz, "ForwardAct y", y, wantY)
				same(t, sz, "ForwardAct "+kind, act, wantAct)
				l.InferAct(kind, act, y, x, n)
				same(t, sz, "InferAct y", y, wantY)
				same(t, sz, "InferAct "+kind, act, wantAct)
			}
			l.ForwardResidual(y, x, skip, n)
			same(t, sz, "ForwardResidual", y, wantSum)
			l.InferResidual(y, x, skip, n)
			same(t, sz, "InferResidual", y, wantSum)
		}
		l.Unpack()

		// The backward of FC2(f(h)) with respect to h.
		for _, kind := range acts {
			h := gradcheck.Random(rng, n*in, 2)
			gx := make([]float32, n*in)
			Activate(kind, gx, h)
			dy := gradcheck.Random(rng, n*out, 1)
			want := make([]float32, n*in)
			l.Backward(want, dy, gx, n)
			ActivateBackward(kind, want, want, h)
			wantGW := append([]float32(nil), l.W.Grad...)
			wantGB := append([]float32(nil), l.B.Grad...)
			clear(l.W.Grad)
			clear(l.B.Grad)
			dh := make([]float32, n*in)
			l.BackwardAct(kind, dh, dy, gx, h, n)
			same(t, sz, "BackwardAct dh "+kind, dh, want)
			same(t, sz, "BackwardAct dW "+kind, l.W.Grad, wantGW)
			same(t, sz, "BackwardAct db "+kind, l.B.Grad, wantGB)
			clear(l.W.Grad)
			clear(l.B.Grad)
		}
	}
}

// acts are the activation kinds of Activate.
var acts = []string{"gelu", "gelu_tanh", "quick_gelu"}

func same(t *testing.T, sz any, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%v %s[%d] = %g, want %g (the unfused result)", sz, what, i, got[i], want[i])
		}
	}
}
