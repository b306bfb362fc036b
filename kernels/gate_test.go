package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// gateRef is x·σ(K·x·(1 + C·x²)) and its derivative in float64.
func gateRef(x float64, g Gate) (y, d float64) {
	k, c := float64(g.K), float64(g.C)
	a := k * x * (1 + c*x*x)
	s := 1 / (1 + math.Exp(-a))
	return x * s, s + x*s*(1-s)*k*(1+3*c*x*x)
}

// TestGate checks every path (assembly and portable Go) of GateForward and
// GateBackward for QuickGELU, tanh-GELU and SiLU against float64 math, on
// lengths that leave tails, with saturated and huge inputs; the tanh form
// also against 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715x³))) itself.
func TestGate(t *testing.T) {
	paths := []bool{false}
	if useAVX2Act {
		paths = append(paths, true)
	}
	defer func(v bool) { setAct(v) }(useAVX2Act)
	rng := rand.New(rand.NewPCG(7, 7))
	special := []float32{10, -10, 30, -30, 100, -100, 1e20, -1e20, 0, float32(math.Copysign(0, -1))}
	for _, asm := range paths {
		setAct(asm)
		for _, g := range []Gate{QuickGELU, GELUTanh, SiLU} {
			for _, n := range []int{1, 7, 8, 9, 31, 100, 40000} {
				x, dy := make([]float32, n), make([]float32, n)
				for i := range x {
					x[i], dy[i] = float32(rng.NormFloat64()*3), float32(rng.NormFloat64())
				}
				copy(x, special)
				y, dx := make([]float32, n), make([]float32, n)
				GateForward(y, x, g)
				GateBackward(dx, dy, x, g)
				for i, v := range x {
					want, d := gateRef(float64(v), g)
					if e := math.Abs(float64(y[i]) - want); !(e <= 1e-6*math.Max(1, math.Abs(want))) {
						t.Fatalf("asm=%v gate %+v n=%d: y(%g) = %g, want %g", asm, g, n, v, y[i], want)
					}
					dwant := float64(dy[i]) * d
					if e := math.Abs(float64(dx[i]) - dwant); !(e <= 2e-6*math.Max(1, math.Abs(dwant))) {
						t.Fatalf("asm=%v gate %+v n=%d: dx(%g) = %g, want %g", asm, g, n, v, dx[i], dwant)
					}
					if g == GELUTanh && math.Abs(float64(v)) < 50 {
						xv := float64(v)
						tanh := 0.5 * xv * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(xv+0.044715*xv*xv*xv)))
						if e := math.Abs(float64(y[i]) - tanh); !(e <= 1e-6*math.Max(1, math.Abs(tanh))) {
							t.Fatalf("asm=%v n=%d: tanh-GELU(%g) = %g, the tanh form %g", asm, n, v, y[i], tanh)
						}
					}
				}
				// In place, as the fused epilogue and Activate call it.
				GateBackward(dy, dy, x, g)
				for i := range dx {
					if dy[i] != dx[i] {
						t.Fatalf("asm=%v: GateBackward in place differs at %d: %g, %g", asm, i, dy[i], dx[i])
					}
				}
			}
			nan := []float32{float32(math.NaN())}
			GateForward(nan, nan, g)
			if !math.IsNaN(float64(nan[0])) {
				t.Fatalf("asm=%v: gate of NaN = %g", asm, nan[0])
			}
		}
	}
}

func BenchmarkGate(b *testing.B) {
	x := make([]float32, 1<<20)
	for i := range x {
		x[i] = float32(i%1000)/250 - 2
	}
	y := make([]float32, len(x))
	b.SetBytes(int64(4 * len(x)))
	for range b.N {
		GateForward(y, x, QuickGELU)
	}
}
