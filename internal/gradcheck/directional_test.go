package gradcheck

import (
	"strings"
	"testing"
)

// TestDirectional checks the checker on L(x, y) = Σ x_i²·y_0 + 3·Σ y_i,
// whose gradient is known: it accepts the true gradient, and names the
// tensor whose gradient is halved or missing, however small that tensor's
// share of the whole gradient.
func TestDirectional(t *testing.T) {
	x := []float32{0.5, -1, 2, 0.25, 1.5, -0.75, 3, 1}
	y := []float32{2, -0.5}
	loss := func() float64 {
		var s float64
		for _, v := range x {
			s += float64(v) * float64(v) * float64(y[0])
		}
		return s + 3*(float64(y[0])+float64(y[1]))
	}
	grads := func() (gx, gy []float32) {
		gx = make([]float32, len(x))
		var sq float64
		for i, v := range x {
			gx[i] = 2 * v * y[0]
			sq += float64(v) * float64(v)
		}
		return gx, []float32{float32(sq + 3), 3}
	}
	o := DirectionalOptions{Eps: 1e-3, RTol: 1e-3, ATol: 1e-6, Seed: 5}
	gx, gy := grads()
	ts := []Tensor{{"x", x, gx}, {"y", y, gy}}
	if err := Directional(ts, loss, o); err != nil {
		t.Fatalf("true gradient rejected: %v", err)
	}
	for _, tc := range []struct {
		name  string
		which int
		scale float32
	}{{"x halved", 0, 0.5}, {"y missing", 1, 0}, {"y halved", 1, 0.5}} {
		gx, gy := grads()
		ts := []Tensor{{"x", x, gx}, {"y", y, gy}}
		for i := range ts[tc.which].Grad {
			ts[tc.which].Grad[i] *= tc.scale
		}
		err := Directional(ts, loss, o)
		if err == nil || !strings.Contains(err.Error(), ts[tc.which].Name+":") {
			t.Errorf("%s: not reported: %v", tc.name, err)
		}
	}
	if x[0] != 0.5 || y[1] != -0.5 {
		t.Fatal("Directional did not restore the values")
	}
}
