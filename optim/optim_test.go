package optim

import (
	"math"
	"testing"

	"github.com/vitgo/vit/nn"
)

// A hand-computed AdamW step: after one step with gradient g, m̂ = g and
// v̂ = g², so the update is lr·g/(|g|+ε) plus decoupled decay.
func TestAdamWFirstStep(t *testing.T) {
	w := nn.NewParam("w", false, 2)
	b := nn.NewParam("b", true, 1)
	w.Data[0], w.Data[1], b.Data[0] = 1, -2, 3
	w.Grad[0], w.Grad[1], b.Grad[0] = 0.5, -4, 2
	o := NewAdamW(0.1)
	o.Step([]*nn.Param{w, b}, 0.01)
	want := []float32{1*(1-0.001) - 0.01, -2*(1-0.001) + 0.01}
	for i, v := range want {
		if math.Abs(float64(w.Data[i]-v)) > 1e-6 {
			t.Errorf("w[%d] = %v, want %v", i, w.Data[i], v)
		}
	}
	if math.Abs(float64(b.Data[0]-(3-0.01))) > 1e-6 {
		t.Errorf("bias = %v, want 2.99 (no decay)", b.Data[0])
	}
}

// AdamW minimises a quadratic.
func TestAdamWConverges(t *testing.T) {
	p := nn.NewParam("x", true, 3)
	copy(p.Data, []float32{5, -3, 1})
	o := NewAdamW(0)
	for range 2000 {
		for i, v := range p.Data {
			p.Grad[i] = 2 * (v - float32(i))
		}
		o.Step([]*nn.Param{p}, 0.05)
	}
	for i, v := range p.Data {
		if math.Abs(float64(v)-float64(i)) > 1e-2 {
			t.Fatalf("x = %v, want [0 1 2]", p.Data)
		}
	}
}

func TestAdamWStateRoundTrip(t *testing.T) {
	mk := func() *nn.Param { p := nn.NewParam("x", false, 2); p.Grad[0], p.Grad[1] = 1, 2; return p }
	a, b := mk(), mk()
	oa := NewAdamW(0.05)
	oa.Step([]*nn.Param{a}, 0.1)
	state, step := oa.State([]*nn.Param{a})
	ob := NewAdamW(0.05)
	copy(b.Data, a.Data)
	if err := ob.SetState([]*nn.Param{b}, state, step); err != nil {
		t.Fatal(err)
	}
	oa.Step([]*nn.Param{a}, 0.1)
	ob.Step([]*nn.Param{b}, 0.1)
	if a.Data[0] != b.Data[0] || a.Data[1] != b.Data[1] {
		t.Fatalf("resumed optimizer diverged: %v vs %v", a.Data, b.Data)
	}
	if err := ob.SetState([]*nn.Param{b}, map[string][]float32{}, 1); err == nil {
		t.Fatal("missing state gave no error")
	}
}

func TestSGDMomentum(t *testing.T) {
	p := nn.NewParam("x", true, 1)
	p.Data[0] = 1
	o := &SGD{Momentum: 0.9}
	p.Grad[0] = 1
	o.Step([]*nn.Param{p}, 0.1) // b=1, x=0.9
	o.Step([]*nn.Param{p}, 0.1) // b=1.9, x=0.71
	if math.Abs(float64(p.Data[0])-0.71) > 1e-6 {
		t.Fatalf("x = %v, want 0.71", p.Data[0])
	}
}

func TestClipGradNorm(t *testing.T) {
	p := nn.NewParam("x", false, 2)
	p.Grad[0], p.Grad[1] = 3, 4
	if n := ClipGradNorm([]*nn.Param{p}, 1); math.Abs(n-5) > 1e-6 {
		t.Fatalf("norm = %v, want 5", n)
	}
	if math.Abs(float64(p.Grad[0])-0.6) > 1e-5 || math.Abs(float64(p.Grad[1])-0.8) > 1e-5 {
		t.Fatalf("clipped = %v, want [0.6 0.8]", p.Grad)
	}
}

func TestWarmupCosine(t *testing.T) {
	s := WarmupCosine{Base: 1, Min: 0, Warmup: 10, Total: 110}
	for _, tc := range []struct {
		step int
		want float32
	}{{0, 0.1}, {9, 1}, {10, 1}, {60, 0.5}, {110, 0}, {500, 0}} {
		if got := s.LR(tc.step); math.Abs(float64(got-tc.want)) > 1e-6 {
			t.Errorf("LR(%d) = %v, want %v", tc.step, got, tc.want)
		}
	}
}
