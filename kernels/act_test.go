package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestExpErf(t *testing.T) {
	for x := -87.0; x < 88; x += 0.173 {
		got, want := float64(Exp(float32(x))), math.Exp(float64(float32(x)))
		if math.Abs(got-want) > 4e-7*want {
			t.Fatalf("Exp(%v) = %v, want %v", x, got, want)
		}
	}
	for x := -5.0; x < 5; x += 0.0137 {
		got, want := float64(Erf(float32(x))), math.Erf(float64(float32(x)))
		if math.Abs(got-want) > 5e-7 {
			t.Fatalf("Erf(%v) = %v, want %v", x, got, want)
		}
	}
	if Exp(-100) != 0 || !math.IsInf(float64(Exp(100)), 1) {
		t.Fatal("Exp does not saturate")
	}
}

// TestGelu checks every path (assembly and portable Go) against float64
// math on awkward lengths, so the assembly's tails and lanes are covered.
func TestGelu(t *testing.T) {
	paths := []bool{false}
	if useAVX2Act {
		paths = append(paths, true)
	}
	defer func(v bool) { setAct(v) }(useAVX2Act)
	rng := rand.New(rand.NewPCG(1, 1))
	for _, asm := range paths {
		setAct(asm)
		for _, n := range []int{1, 7, 8, 9, 31, 100, 40000} {
			x := make([]float32, n)
			dy := make([]float32, n)
			for i := range x {
				x[i] = float32(rng.NormFloat64() * 3)
				dy[i] = float32(rng.NormFloat64())
			}
			x[0] = 10 // saturated tail
			if n > 1 {
				x[1] = -10
			}
			y := make([]float32, n)
			dx := make([]float32, n)
			Gelu(y, x)
			GeluBackward(dx, dy, x)
			for i, v := range x {
				xv := float64(v)
				cdf := 0.5 * (1 + math.Erf(xv/math.Sqrt2))
				want := xv * cdf
				if math.Abs(float64(y[i])-want) > 1e-6*math.Max(1, math.Abs(want)) {
					t.Fatalf("asm=%v n=%d: Gelu(%v) = %v, want %v", asm, n, v, y[i], want)
				}
				dwant := float64(dy[i]) * (cdf + xv*math.Exp(-xv*xv/2)/math.Sqrt(2*math.Pi))
				if math.Abs(float64(dx[i])-dwant) > 2e-6*math.Max(1, math.Abs(dwant)) {
					t.Fatalf("asm=%v n=%d: GeluBackward(%v) = %v, want %v", asm, n, v, dx[i], dwant)
				}
			}
		}
	}
}

func BenchmarkGelu(b *testing.B) {
	x := make([]float32, 1<<20)
	for i := range x {
		x[i] = float32(i%1000)/250 - 2
	}
	y := make([]float32, len(x))
	b.SetBytes(int64(4 * len(x)))
	for range b.N {
		Gelu(y, x)
	}
}

func BenchmarkGeluBackward(b *testing.B) {
	x := make([]float32, 1<<20)
	for i := range x {
		x[i] = float32(i%1000)/250 - 2
	}
	y := make([]float32, len(x))
	b.SetBytes(int64(4 * len(x)))
	for range b.N {
		GeluBackward(y, y, x)
	}
}

func TestSoftmaxRows(t *testing.T) {
	paths := []bool{false}
	if useAVX2Act {
		paths = append(paths, true)
	}
	defer func(v bool) { setAct(v) }(useAVX2Act)
	rng := rand.New(rand.NewPCG(2, 2))
	for _, asm := range paths {
		setAct(asm)
		for _, cols := range []int{1, 7, 8, 9, 50, 197} {
			rows := 3
			x := make([]float32, rows*cols)
			for i := range x {
				x[i] = float32(rng.NormFloat64() * 5)
			}
			x[0] = -200 // exp underflows
			want := make([]float64, len(x))
			for r := range rows {
				m := math.Inf(-1)
				for _, v := range x[r*cols : (r+1)*cols] {
					m = math.Max(m, float64(v))
				}
				var s float64
				for j, v := range x[r*cols : (r+1)*cols] {
					want[r*cols+j] = math.Exp(float64(v) - m)
					s += want[r*cols+j]
				}
				for j := range cols {
					want[r*cols+j] /= s
				}
			}
			SoftmaxRows(x, rows, cols)
			for i, v := range x {
				if math.Abs(float64(v)-want[i]) > 1e-6 {
					t.Fatalf("asm=%v cols=%d: p[%d] = %v, want %v", asm, cols, i, v, want[i])
				}
			}
		}
	}
}

func TestAddToAndColumnSums(t *testing.T) {
	paths := []bool{false}
	if useAVX2Act {
		paths = append(paths, true)
	}
	defer func(v bool) { setAct(v) }(useAVX2Act)
	for _, asm := range paths {
		setAct(asm)
		for _, cols := range []int{1, 7, 8, 33, 128} {
			rows := 150
			x := make([]float32, rows*cols)
			for i := range x {
				x[i] = float32(i%11) - 5
			}
			b := make([]float32, cols)
			for j := range b {
				b[j] = float32(j)
			}
			y := append([]float32(nil), x...)
			AddRowVector(y, b, rows)
			sum := make([]float32, cols)
			for j := range sum {
				sum[j] = 1
			}
			ColumnSums(sum, x, rows, make([]float32, Workers*cols))
			for j := range cols {
				want := float32(1)
				for r := range rows {
					want += x[r*cols+j]
					if y[r*cols+j] != x[r*cols+j]+b[j] {
						t.Fatalf("asm=%v cols=%d: AddRowVector wrong at (%d,%d)", asm, cols, r, j)
					}
				}
				if sum[j] != want {
					t.Fatalf("asm=%v cols=%d: column %d sums to %v, want %v", asm, cols, j, sum[j], want)
				}
			}
		}
	}
}
