package kernels

import (
	"math"
	"testing"
)

func TestReductions(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 128, 131} {
		x := make([]float32, n)
		y := make([]float32, n)
		var s, d, q float64
		for i := range x {
			x[i] = float32(i%7) - 2.5
			y[i] = float32(i%5) * 0.5
			s += float64(x[i])
			d += float64(x[i]) * float64(y[i])
			q += (float64(x[i]) - 0.25) * (float64(x[i]) - 0.25)
		}
		if got := Sum(x); math.Abs(float64(got)-s) > 1e-4 {
			t.Errorf("Sum n=%d: %v, want %v", n, got, s)
		}
		if got := Dot(x, y); math.Abs(float64(got)-d) > 1e-4 {
			t.Errorf("Dot n=%d: %v, want %v", n, got, d)
		}
		if got := SumSqDev(x, 0.25); math.Abs(float64(got)-q) > 1e-3 {
			t.Errorf("SumSqDev n=%d: %v, want %v", n, got, q)
		}
	}
}
