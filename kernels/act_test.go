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

// softmaxCols are row lengths for the softmax tests: every tail length
// (cols%8) with zero, one and several full vectors, the 32-wide blocks of
// the row maximum and scaling loops, and ViT's token counts.
var softmaxCols = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 15, 16, 17, 23, 24, 31, 32, 33, 40, 49, 50, 64, 65, 100, 197, 785}

// softmaxInput fills a [rows, cols] block for one test kind.
func softmaxInput(rng *rand.Rand, kind string, rows, cols int) []float32 {
	x := make([]float32, rows*cols)
	negInf := float32(math.Inf(-1))
	for r := range rows {
		row := x[r*cols : (r+1)*cols]
		switch kind {
		case "normal": // attention-like scores
			for j := range row {
				row[j] = float32(rng.NormFloat64() * 5)
			}
		case "spread": // magnitudes from 1e-3 to 1e3, either sign
			for j := range row {
				v := float32(math.Pow(10, rng.Float64()*6-3))
				if rng.IntN(2) == 0 {
					v = -v
				}
				row[j] = v
			}
		case "underflow": // one peak, last in every other row; exp of the rest is tiny, denormal or 0
			for j := range row {
				row[j] = -float32(rng.Float64() * 120)
			}
			peak := cols - 1
			if r%2 == 1 {
				peak = rng.IntN(cols)
			}
			row[peak] = 30
		case "neginf": // masked scores: -Inf anywhere, the last entry included
			for j := range row {
				row[j] = float32(rng.NormFloat64() * 3)
				if rng.IntN(3) == 0 || j == cols-1 && cols > 1 {
					row[j] = negInf
				}
			}
			row[rng.IntN(max(1, cols-1))] = float32(rng.NormFloat64()) // one finite entry at least
		case "uniform": // all entries equal: p = 1/cols exactly
			v := float32(rng.NormFloat64() * 100)
			for j := range row {
				row[j] = v
			}
		default:
			panic(kind)
		}
	}
	return x
}

// softmaxRef returns the softmax of x in float64 and, for each element,
// the error bound of a float32 result: exp of the float32 difference
// x_j − m (itself rounded by up to 2⁻²⁴·|x_j − m|), a few ulps for Exp, the
// sum and the scaling.
func softmaxRef(x []float32, rows, cols int) (want, tol []float64) {
	want = make([]float64, len(x))
	tol = make([]float64, len(x))
	for r := range rows {
		row := x[r*cols : (r+1)*cols]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, float64(v))
		}
		var s float64
		for j, v := range row {
			want[r*cols+j] = math.Exp(float64(v) - m)
			s += want[r*cols+j]
		}
		for j, v := range row {
			w := want[r*cols+j] / s
			want[r*cols+j] = w
			if w > 0 {
				tol[r*cols+j] = w*(1e-6+0x1p-24*math.Abs(float64(v)-m)) + 1e-37
			}
		}
	}
	return want, tol
}

// guardedBlock returns a [n] sub-slice of a bigger buffer with guard
// floats before and after it, and a function that reports whether the
// guards still hold their value. The guards are huge, so a kernel that
// read them into a row's maximum, sum or dot product would also give wrong
// results.
func guardedBlock(n int) (block []float32, intact func() bool) {
	const pre, post = 3, 9 // pre = 3 misaligns the block
	const guard = float32(1e30)
	buf := make([]float32, pre+n+post)
	for i := range buf {
		buf[i] = guard
	}
	block = buf[pre : pre+n : pre+n]
	return block, func() bool {
		for _, v := range append(buf[:pre:pre], buf[pre+n:]...) {
			if v != guard {
				return false
			}
		}
		return true
	}
}

func ulpDiff(a, b float32) int64 {
	d := int64(math.Float32bits(a)) - int64(math.Float32bits(b))
	return max(d, -d)
}

// TestSoftmaxRows checks every path (assembly and portable Go) against
// float64 math, and the two paths against each other, on all tail lengths
// and awkward inputs, with guards around the block.
func TestSoftmaxRows(t *testing.T) {
	paths := []bool{false}
	if useAVX2Act {
		paths = append(paths, true)
	}
	defer func(v bool) { setAct(v) }(useAVX2Act)
	rng := rand.New(rand.NewPCG(2, 2))
	for _, kind := range []string{"normal", "spread", "underflow", "neginf", "uniform"} {
		for _, cols := range softmaxCols {
			rows := 1 + rng.IntN(4)
			x := softmaxInput(rng, kind, rows, cols)
			want, tol := softmaxRef(x, rows, cols)
			got := make([][]float32, len(paths))
			for pi, asm := range paths {
				setAct(asm)
				p, intact := guardedBlock(len(x))
				copy(p, x)
				SoftmaxRows(p, rows, cols)
				if !intact() {
					t.Fatalf("asm=%v %s cols=%d rows=%d: SoftmaxRows wrote outside its rows", asm, kind, cols, rows)
				}
				for i, v := range p {
					w := want[i]
					switch {
					case math.IsInf(float64(x[i]), -1) && v != 0:
						t.Fatalf("asm=%v %s cols=%d: p[%d] = %v for a -Inf score, want 0", asm, kind, cols, i, v)
					case kind == "uniform" && v != 1/float32(cols):
						t.Fatalf("asm=%v %s cols=%d: p[%d] = %v, want 1/%d", asm, kind, cols, i, v, cols)
					case math.Abs(float64(v)-w) > tol[i]:
						t.Fatalf("asm=%v %s cols=%d: p[%d] = %v, want %v", asm, kind, cols, i, v, w)
					}
				}
				got[pi] = p
			}
			if len(paths) == 2 {
				// The paths differ by an ulp in Exp and in how they sum.
				ulps := int64(8 + cols/128)
				for i, v := range got[1] {
					g := got[0][i]
					if (v == 0) != (g == 0) || v >= 1e-30 && ulpDiff(v, g) > ulps {
						t.Fatalf("%s cols=%d: p[%d] is %v in assembly, %v in Go", kind, cols, i, v, g)
					}
				}
			}
		}
	}
}

// TestSoftmaxBackwardRows checks every path against float64 math:
// ds = scale·p⊙(dp − Σ dp·p), with exact zeros where p is 0 (masked
// scores), guards around dp and huge values around p.
func TestSoftmaxBackwardRows(t *testing.T) {
	paths := []bool{false}
	if useAVX2Act {
		paths = append(paths, true)
	}
	defer func(v bool) { setAct(v) }(useAVX2Act)
	rng := rand.New(rand.NewPCG(3, 3))
	for _, kind := range []string{"normal", "spread", "neginf", "uniform"} {
		for _, cols := range softmaxCols {
			rows := 1 + rng.IntN(4)
			scale := float32(rng.Float64()*2 - 0.5)
			p := softmaxInput(rng, kind, rows, cols)
			setAct(false)
			SoftmaxRows(p, rows, cols)
			dp := make([]float32, rows*cols)
			for i := range dp {
				dp[i] = float32(rng.NormFloat64() * math.Pow(10, rng.Float64()*4-2))
			}
			want := make([]float64, len(dp))
			tol := make([]float64, len(dp))
			for r := range rows {
				var dot, adot float64
				for j := r * cols; j < (r+1)*cols; j++ {
					dot += float64(dp[j]) * float64(p[j])
					adot += math.Abs(float64(dp[j]) * float64(p[j]))
				}
				for j := r * cols; j < (r+1)*cols; j++ {
					want[j] = float64(scale) * float64(p[j]) * (float64(dp[j]) - dot)
					tol[j] = 4e-6*math.Abs(float64(scale))*float64(p[j])*(math.Abs(float64(dp[j]))+adot) + 1e-44
				}
			}
			for _, asm := range paths {
				setAct(asm)
				d, intact := guardedBlock(len(dp))
				copy(d, dp)
				pg, _ := guardedBlock(len(p))
				copy(pg, p)
				SoftmaxBackwardRows(d, pg, rows, cols, scale)
				if !intact() {
					t.Fatalf("asm=%v %s cols=%d rows=%d: SoftmaxBackwardRows wrote outside its rows", asm, kind, cols, rows)
				}
				for i, v := range d {
					if p[i] == 0 && v != 0 || math.Abs(float64(v)-want[i]) > tol[i] {
						t.Fatalf("asm=%v %s cols=%d: ds[%d] = %v, want %v (p = %v, dp = %v)", asm, kind, cols, i, v, want[i], p[i], dp[i])
					}
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

func TestExpAffine(t *testing.T) {
	have := useAVX2Act
	defer setAct(have)
	for _, avx := range []bool{true, false} {
		if avx && !have {
			t.Log("elementwise/avx2: skipped, CPU lacks AVX2+FMA (or a purego build); see TestKernelPaths")
			continue
		}
		setAct(avx)
		for _, n := range []int{1, 7, 8, 9, 16, 31, 64, 197} {
			r := rand.New(rand.NewPCG(uint64(n), 9))
			x := make([]float32, n+1)
			for i := range n {
				x[i] = float32(r.NormFloat64() * 20)
			}
			x[0] = float32(math.Inf(-1))
			const guard = 777
			x[n] = guard
			in := append([]float32(nil), x...)
			const shift, scale, add = 3.5, 0.25, 1e-3
			ExpAffine(x[:n], shift, scale, add)
			for i := range n {
				want := scale*math.Exp(float64(in[i])-shift) + add
				if math.Abs(float64(x[i])-want) > 1e-6*math.Abs(want)+1e-9 {
					t.Fatalf("avx=%v n=%d: x[%d] = %v for input %v, want %v", avx, n, i, x[i], in[i], want)
				}
			}
			if x[n] != guard {
				t.Fatalf("avx=%v n=%d: wrote past the end", avx, n)
			}
		}
	}
}

// TestGeluSplitInvariant checks that a value's GELU and GELU gradient do
// not depend on how the array is split into chunks (worker chunks, the
// blocks of a product's epilogue): odd-sized pieces give the bits of one
// pass over everything.
func TestGeluSplitInvariant(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x, dy := randSlice(r, 1000), randSlice(r, 1000)
	for i := range x {
		x[i] *= 5
	}
	y, dx := make([]float32, len(x)), make([]float32, len(x))
	Gelu(y, x)
	GeluBackward(dx, dy, x)
	py, pdx := make([]float32, len(x)), make([]float32, len(x))
	for lo, size := 0, 1; lo < len(x); lo, size = lo+size, size%13+1 {
		hi := min(len(x), lo+size)
		geluSerial(py[lo:hi], x[lo:hi])
		geluBackwardSerial(pdx[lo:hi], dy[lo:hi], x[lo:hi])
	}
	for i := range x {
		if math.Float32bits(py[i]) != math.Float32bits(y[i]) || math.Float32bits(pdx[i]) != math.Float32bits(dx[i]) {
			t.Fatalf("x[%d] = %g: in pieces GELU %g and gradient %g, in one pass %g and %g", i, x[i], py[i], pdx[i], y[i], dx[i])
		}
	}
}
