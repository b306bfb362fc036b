package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// layerNormRef is LayerNorm forward and backward in float64.
func layerNormRef(x, g, b, dy []float32, rows, d int, eps float64) (y, dx, gg, gb []float64) {
	y, dx = make([]float64, rows*d), make([]float64, rows*d)
	gg, gb = make([]float64, d), make([]float64, d)
	for r := 0; r < rows; r++ {
		var mu, v float64
		for j := 0; j < d; j++ {
			mu += float64(x[r*d+j])
		}
		mu /= float64(d)
		for j := 0; j < d; j++ {
			t := float64(x[r*d+j]) - mu
			v += t * t
		}
		rs := 1 / math.Sqrt(v/float64(d)+eps)
		var sumD, sumDX float64
		xh := make([]float64, d)
		for j := 0; j < d; j++ {
			xh[j] = (float64(x[r*d+j]) - mu) * rs
			y[r*d+j] = xh[j]*float64(g[j]) + float64(b[j])
			dh := float64(dy[r*d+j]) * float64(g[j])
			sumD += dh
			sumDX += dh * xh[j]
			gg[j] += float64(dy[r*d+j]) * xh[j]
			gb[j] += float64(dy[r*d+j])
		}
		for j := 0; j < d; j++ {
			dh := float64(dy[r*d+j]) * float64(g[j])
			dx[r*d+j] = rs * (dh - sumD/float64(d) - xh[j]*sumDX/float64(d))
		}
	}
	return
}

func TestLayerNormRows(t *testing.T) {
	have := useAVX2Norm
	defer setNorm(have)
	for _, avx := range []bool{true, false} {
		if avx && !have {
			t.Log("layernorm/avx2: skipped, CPU lacks AVX2+FMA (or a purego build); see TestKernelPaths")
			continue
		}
		setNorm(avx)
		for _, d := range []int{1, 7, 8, 13, 64, 128, 197, 768} {
			t.Run(fmt.Sprintf("avx=%v/d=%d", avx, d), func(t *testing.T) {
				const rows = 5
				r := rand.New(rand.NewPCG(uint64(d), 3))
				x, dy := make([]float32, rows*d+1), make([]float32, rows*d)
				g, b := make([]float32, d), make([]float32, d)
				for i := range x {
					x[i] = float32(r.NormFloat64()*3 + 5) // an offset mean tests the two-pass variance
				}
				for i := range dy {
					dy[i] = float32(r.NormFloat64())
				}
				for j := range g {
					g[j], b[j] = float32(1+0.3*r.NormFloat64()), float32(r.NormFloat64())
				}
				const guard = 12345
				x[rows*d] = guard
				y := make([]float32, rows*d+1)
				y[rows*d] = guard
				mean, rstd := make([]float32, rows), make([]float32, rows)
				LayerNormRows(y, x, g, b, rows, d, 1e-6, mean, rstd)
				dx := make([]float32, rows*d+1)
				dx[rows*d] = guard
				for i := range rows * d {
					dx[i] = 0.5 // the gradient is added
				}
				gg, gb := make([]float32, d), make([]float32, d)
				LayerNormBackwardRows(dx, dy, x, g, mean, rstd, rows, d, gg, gb)
				wy, wdx, wgg, wgb := layerNormRef(x, g, b, dy, rows, d, 1e-6)
				check := func(name string, got []float32, want []float64, add float64) {
					t.Helper()
					for i, w := range want {
						if diff := math.Abs(float64(got[i]) - add - w); diff > 1e-4*(1+math.Abs(w)) {
							t.Fatalf("%s[%d] = %v, want %v", name, i, float64(got[i])-add, w)
						}
					}
				}
				check("y", y, wy, 0)
				if d > 1 { // with d = 1 the input gradient is 0 up to rounding of rstd·(dy−dy)
					check("dx", dx, wdx, 0.5)
				}
				check("gg", gg, wgg, 0)
				check("gb", gb, wgb, 0)
				if y[rows*d] != guard || dx[rows*d] != guard {
					t.Fatalf("wrote past the last row")
				}
			})
		}
	}
}
