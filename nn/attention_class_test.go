package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vitgo/vit/internal/gradcheck"
	"github.com/vitgo/vit/internal/kernelpath/kernelpathtest"
)

// TestAttentionClass checks the class token's attention against full
// attention (its first row) and its backward against finite differences.
func TestAttentionClass(t *testing.T) { kernelpathtest.Run(t, testAttentionClass) }

func testAttentionClass(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	batch, tokens, heads, dh := 3, 6, 2, 5
	a := Attention{Heads: heads, Dim: heads * dh}
	d := a.Dim
	qkv := gradcheck.Random(rng, batch*tokens*3*d, 1)

	full := make([]float32, batch*tokens*d)
	a.Forward(full, make([]float32, batch*heads*tokens*tokens), nil, nil, qkv, batch, tokens)
	out := make([]float32, batch*d)
	probs := make([]float32, batch*heads*tokens)
	a.ForwardClass(out, probs, qkv, batch, tokens)
	for b := range batch {
		for j := range d {
			if got, want := out[b*d+j], full[b*tokens*d+j]; math.Abs(float64(got-want)) > 1e-5 {
				t.Fatalf("image %d: class output[%d] = %v, full attention's %v", b, j, got, want)
			}
		}
	}

	up := gradcheck.Random(rng, batch*d, 1)
	loss := func() float64 { a.ForwardClass(out, probs, qkv, batch, tokens); return gradcheck.Dot(out, up) }
	loss()
	dq := make([]float32, batch*d)
	dkv := make([]float32, batch*tokens*2*d)
	a.BackwardClass(dq, dkv, make([]float32, batch*heads*tokens), up, qkv, probs, batch, tokens)
	// Gather the gradients into qkv's layout; other tokens' queries get none.
	dqkv := make([]float32, len(qkv))
	for b := range batch {
		copy(dqkv[b*tokens*3*d:][:d], dq[b*d:(b+1)*d])
		for j := range tokens {
			copy(dqkv[(b*tokens+j)*3*d+d:][:2*d], dkv[(b*tokens+j)*2*d:][:2*d])
		}
	}
	gradcheck.Check(t, "dqkv", qkv, dqkv, loss, 1e-3, tol, 0)
}

// TestLinearOutputs checks ForwardOutputs and BackwardOutputs, on strided
// rows, against the whole layer.
func TestLinearOutputs(t *testing.T) { kernelpathtest.Run(t, testLinearOutputs) }

func testLinearOutputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	n, in, out, o0, o1 := 5, 7, 9, 3, 7
	ld := in + 4 // x and dx rows lie ld apart
	l := NewLinear("fc", in, out, true)
	copy(l.W.Data, gradcheck.Random(rng, in*out, 0.5))
	copy(l.B.Data, gradcheck.Random(rng, out, 0.5))
	x := gradcheck.Random(rng, n*ld, 1)
	compact := make([]float32, n*in)
	for r := range n {
		copy(compact[r*in:(r+1)*in], x[r*ld:])
	}
	whole := make([]float32, n*out)
	l.Forward(whole, compact, n)
	ldy := out + 2
	y := make([]float32, n*ldy)
	l.ForwardOutputs(y, ldy, x, ld, n, o0, o1)
	for r := range n {
		for j := range o1 - o0 {
			if got, want := y[r*ldy+j], whole[r*out+o0+j]; math.Abs(float64(got-want)) > 1e-5 {
				t.Fatalf("row %d output %d: %v, the whole layer's %v", r, o0+j, got, want)
			}
		}
	}

	// The gradient of outputs [o0, o1) alone equals the whole layer's
	// gradient with the other outputs' gradients zero.
	dy := gradcheck.Random(rng, n*(o1-o0), 1)
	dyWhole := make([]float32, n*out)
	for r := range n {
		copy(dyWhole[r*out+o0:r*out+o1], dy[r*(o1-o0):])
	}
	wantDx := make([]float32, n*in)
	l.Backward(wantDx, dyWhole, compact, n)
	wantGW, wantGB := append([]float32(nil), l.W.Grad...), append([]float32(nil), l.B.Grad...)
	clear(l.W.Grad)
	clear(l.B.Grad)
	dx := gradcheck.Random(rng, n*ld, 1)
	before := append([]float32(nil), dx...)
	l.BackwardOutputs(dx, dy, x, ld, n, o0, o1, true)
	for r := range n {
		for j := range in {
			if got, want := dx[r*ld+j], before[r*ld+j]+wantDx[r*in+j]; math.Abs(float64(got-want)) > 1e-5 {
				t.Fatalf("dx[%d][%d] = %v, want %v", r, j, got, want)
			}
		}
		for j := in; j < ld && r*ld+j < len(dx); j++ {
			if dx[r*ld+j] != before[r*ld+j] {
				t.Fatalf("dx[%d][%d] lies between rows but changed", r, j)
			}
		}
	}
	for i := range wantGW {
		if math.Abs(float64(l.W.Grad[i]-wantGW[i])) > 1e-5 {
			t.Fatalf("W.Grad[%d] = %v, want %v", i, l.W.Grad[i], wantGW[i])
		}
	}
	for i := range wantGB {
		if math.Abs(float64(l.B.Grad[i]-wantGB[i])) > 1e-5 {
			t.Fatalf("B.Grad[%d] = %v, want %v", i, l.B.Grad[i], wantGB[i])
		}
	}
}
