package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// kernelPath is one implementation the build can choose at run time, for
// one family of operations (fp32 products, bf16 products, bf16 conversion,
// elementwise activations, LayerNorm).
type kernelPath struct {
	name  string
	needs []cpuFeature // CPU features it runs on; none for portable Go
	// force makes the dispatcher choose this path, until restore is called.
	force func() (restore func())
	// check tests the family's entry points, which must then take this path.
	check func(t *testing.T)
}

// missing lists the features of p this CPU lacks, "" when it has them all.
func (p kernelPath) missing() string { return missingFeatures(p.needs) }

// TestKernelPaths runs every kernel path this build can choose
// (buildPaths), each forced in turn through its family's public entry
// points, where the CPU has what the path needs; the portable Go path of
// every family always runs. The log says which paths ran, which were
// skipped for lack of a CPU feature (naming it), and which this build
// leaves out (the purego tag, or not amd64):
//
//	go test -v -run TestKernelPaths ./kernels
//
// The tests of the model and its layers run on whole path sets instead, one
// per kind of CPU (buildPathSets, through kernelpathtest.Run).
func TestKernelPaths(t *testing.T) {
	var ran, skipped []string
	for _, p := range buildPaths() {
		if lack := p.missing(); lack != "" {
			skipped = append(skipped, p.name)
			t.Run(p.name, func(t *testing.T) { t.Skipf("%s: skipped, CPU lacks %s", p.name, lack) })
			continue
		}
		ran = append(ran, p.name)
		t.Run(p.name, func(t *testing.T) {
			defer p.force()()
			p.check(t)
			t.Logf("%v: ran", p)
		})
	}
	t.Logf("kernel paths run: %s", strings.Join(ran, ", "))
	if len(skipped) > 0 {
		t.Logf("kernel paths skipped for lack of a CPU feature: %s", strings.Join(skipped, ", "))
	}
	if len(notBuilt) > 0 {
		t.Logf("kernel paths not in this build (%s): %s", buildTags, strings.Join(notBuilt, ", "))
	}
}

// TestKernelPathsForce checks that forcing a path changes what the
// dispatchers choose: otherwise TestKernelPaths would test one path many
// times under different names.
func TestKernelPathsForce(t *testing.T) {
	for _, p := range buildPaths() {
		if p.missing() != "" {
			continue
		}
		restore := p.force()
		got := chosenPaths()
		restore()
		found := false
		for _, c := range got {
			found = found || c == p.name
		}
		if !found {
			t.Errorf("forcing %s: the dispatchers choose %v", p.name, got)
		}
	}
}

// gemmPath is the fp32 product path of microkernel mk: Sgemm, SgemmSerial,
// their epilogues, attention heads and F32 packed products run on it.
func gemmPath(mk *microKernel, needs ...cpuFeature) kernelPath {
	return kernelPath{
		name:  "gemm/" + mk.name,
		needs: needs,
		force: func() func() {
			old := kernel
			kernel = mk
			return func() { kernel = old }
		},
		check: checkGemmPath,
	}
}

// checkGemmPath runs products of awkward shapes through Sgemm (serial and
// parallel), SgemmSerial and PackB(F32)+GemmPacked against sgemmRef.
func checkGemmPath(t *testing.T) {
	defer func(old int) { parallelMinFlop = old }(parallelMinFlop)
	parallelMinFlop = 0
	r := rand.New(rand.NewPCG(41, 42))
	sizes := []int{1, 5, 13, 33, 64, 97}
	for i := range 40 {
		tc := gemmCase{transA: i&1 != 0, transB: i&2 != 0, m: sizes[r.IntN(6)], n: sizes[r.IntN(6)], k: sizes[r.IntN(6)],
			alpha: 1, beta: float32(i % 3 / 2), pad: r.IntN(2) * 3}
		a, lda, b, ldb := randOperands(r, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.pad)
		ldc := tc.n + tc.pad
		c0 := randSlice(r, (tc.m-1)*ldc+tc.n)
		want := append([]float32(nil), c0...)
		sgemmRef(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
		tol := 2e-6 * float64(tc.k+4) * 3
		for _, run := range []struct {
			name string
			f    func(c []float32)
		}{
			{"Sgemm", func(c []float32) {
				Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
			}},
			{"SgemmSerial", func(c []float32) {
				SgemmSerial(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
			}},
			{"GemmPacked", func(c []float32) {
				if tc.transA {
					// GemmPacked takes A as stored; transpose it first.
					at := make([]float32, tc.m*tc.k)
					for p := range tc.k {
						for i := range tc.m {
							at[i*tc.k+p] = a[p*lda+i]
						}
					}
					GemmPacked(tc.m, tc.alpha, at, tc.k, PackB(F32, tc.transB, tc.k, tc.n, b, ldb), tc.beta, c, ldc)
					return
				}
				GemmPacked(tc.m, tc.alpha, a, lda, PackB(F32, tc.transB, tc.k, tc.n, b, ldb), tc.beta, c, ldc)
			}},
		} {
			c := append([]float32(nil), c0...)
			run.f(c)
			for x := range tc.m * ldc {
				if x%ldc >= tc.n {
					continue
				}
				if d := math.Abs(float64(c[x] - want[x])); !(d <= tol) {
					t.Fatalf("%s %v: C[%d, %d] = %g, want %g", run.name, tc, x/ldc, x%ldc, c[x], want[x])
				}
			}
		}
	}
}

// bf16Path is the bf16 product path on the bf16-pair kernel bk, or with
// bk nil on the fp32 kernel with bf16-rounded operands.
func bf16Path(name string, bk *bf16Kernel, needs ...cpuFeature) kernelPath {
	return kernelPath{
		name:  name,
		needs: needs,
		force: func() func() {
			nativeBF16Kernel() // settle the timed choice first
			old := nativeBF16.bk
			nativeBF16.bk = bk
			return func() { nativeBF16.bk = old }
		},
		check: checkBF16Path,
	}
}

// checkBF16Path runs PackB(BF16)+GemmPacked products against float64 sums
// of the bf16-rounded operands.
func checkBF16Path(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	for i, s := range [][3]int{{1, 1, 1}, {5, 40, 33}, {13, 64, 96}, {50, 97, 200}, {197, 32, 64}} {
		m, n, k := s[0], s[1], s[2]
		transB := i%2 == 1
		a := randSlice(r, m*k)
		b := randSlice(r, n*k)
		ldb := n
		if transB {
			ldb = k
		}
		c := make([]float32, m*n)
		GemmPacked(m, 1, a, k, PackB(BF16, transB, k, n, b, ldb), 0, c, n)
		for row := range m {
			for col := range n {
				var want, abs float64
				for p := range k {
					bv := b[p*n+col]
					if transB {
						bv = b[col*k+p]
					}
					v := float64(fromBF16(toBF16(a[row*k+p]))) * float64(fromBF16(toBF16(bv)))
					want += v
					abs += math.Abs(v)
				}
				if d := math.Abs(float64(c[row*n+col]) - want); !(d <= 0x1p-22*float64(k+4)*abs+1e-30) {
					t.Fatalf("%d×%d×%d transB=%v: C[%d, %d] = %g, want %g", m, n, k, transB, row, col, c[row*n+col], want)
				}
			}
		}
	}
}

// checkBF16Convert checks roundBF16s and widenBF16 against toBF16 on
// special values and random bits, at lengths around the vector width.
func checkBF16Convert(t *testing.T) {
	in := bf16TestInputs(200)
	for _, n := range []int{0, 1, 7, 8, 9, 31, 200} {
		x := append([]float32(nil), in[:n]...)
		roundBF16s(x)
		h := make([]uint16, n)
		for i, v := range in[:n] {
			if got, want := math.Float32bits(x[i]), uint32(toBF16(v))<<16; got != want {
				t.Fatalf("n=%d: roundBF16s(%#08x) = %#08x, want %#08x", n, math.Float32bits(v), got, want)
			}
			h[i] = toBF16(v)
		}
		w := make([]float32, n)
		widenBF16(w, h)
		for i := range h {
			if math.Float32bits(w[i]) != uint32(h[i])<<16 {
				t.Fatalf("n=%d: widenBF16(%#04x) = %#08x", n, h[i], math.Float32bits(w[i]))
			}
		}
	}
}

// checkElementwise checks Gelu, GeluBackward, SoftmaxRows,
// SoftmaxBackwardRows, AddTo and ExpAffine against float64 formulas, at
// lengths around the vector width.
func checkElementwise(t *testing.T) {
	r := rand.New(rand.NewPCG(45, 46))
	near := func(what string, i int, got float32, want, tol float64) {
		t.Helper()
		if d := math.Abs(float64(got) - want); !(d <= tol*math.Max(1, math.Abs(want))) {
			t.Fatalf("%s[%d] = %g, want %g", what, i, got, want)
		}
	}
	phi := func(x float64) float64 { return 0.5 * (1 + math.Erf(x/math.Sqrt2)) }
	for _, n := range []int{1, 7, 8, 9, 31, 100} {
		x, dy := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], dy[i] = float32(r.NormFloat64()*3), float32(r.NormFloat64())
		}
		y := make([]float32, n)
		Gelu(y, x)
		dx := make([]float32, n)
		GeluBackward(dx, dy, x)
		for i, v := range x {
			xv := float64(v)
			near("Gelu", i, y[i], xv*phi(xv), 1e-6)
			d := phi(xv) + xv*math.Exp(-xv*xv/2)/math.Sqrt(2*math.Pi)
			near("GeluBackward", i, dx[i], float64(dy[i])*d, 2e-6)
		}
		sum := append([]float32(nil), x...)
		AddTo(sum, dy)
		for i := range sum {
			if sum[i] != x[i]+dy[i] {
				t.Fatalf("AddTo[%d] = %g, want %g", i, sum[i], x[i]+dy[i])
			}
		}
		for _, g := range []Gate{QuickGELU, GELUTanh, SiLU} {
			GateForward(y, x, g)
			GateBackward(dx, dy, x, g)
			for i, v := range x {
				want, d := gateRef(float64(v), g)
				near("GateForward", i, y[i], want, 1e-6)
				near("GateBackward", i, dx[i], float64(dy[i])*d, 2e-6)
			}
		}
		e := append([]float32(nil), x...)
		ExpAffine(e, 0.5, 2, 0.25)
		for i, v := range x {
			near("ExpAffine", i, e[i], 2*math.Exp(float64(v)-0.5)+0.25, 1e-5)
		}
		const rows = 3
		p := make([]float32, rows*n)
		for i := range p {
			p[i] = float32(r.NormFloat64() * 4)
		}
		logits := append([]float32(nil), p...)
		SoftmaxRows(p, rows, n)
		dp := make([]float32, rows*n)
		for i := range dp {
			dp[i] = float32(r.NormFloat64())
		}
		grad := append([]float32(nil), dp...)
		SoftmaxBackwardRows(grad, p, rows, n, 0.5)
		for row := range rows {
			lr := logits[row*n : (row+1)*n]
			top := math.Inf(-1)
			for _, v := range lr {
				top = max(top, float64(v))
			}
			var z float64
			for _, v := range lr {
				z += math.Exp(float64(v) - top)
			}
			var dot float64
			for j := range n {
				dot += float64(dp[row*n+j]) * float64(p[row*n+j])
			}
			for j, v := range lr {
				near("SoftmaxRows", row*n+j, p[row*n+j], math.Exp(float64(v)-top)/z, 1e-6)
				pj := float64(p[row*n+j])
				near("SoftmaxBackwardRows", row*n+j, grad[row*n+j], 0.5*pj*(float64(dp[row*n+j])-dot), 1e-5)
			}
		}
	}
}

// checkLayerNorm checks LayerNormRows and LayerNormBackwardRows, and the
// reductions beside them, against float64 formulas.
func checkLayerNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(47, 48))
	for _, d := range []int{1, 7, 8, 13, 64, 100} {
		const rows = 3
		x, dy := make([]float32, rows*d), make([]float32, rows*d)
		g, b := make([]float32, d), make([]float32, d)
		for i := range x {
			x[i], dy[i] = float32(r.NormFloat64()*2+3), float32(r.NormFloat64())
		}
		for j := range g {
			g[j], b[j] = float32(1+r.NormFloat64()/4), float32(r.NormFloat64()/4)
		}
		const eps = 1e-5
		y, mean, rstd := make([]float32, rows*d), make([]float32, rows), make([]float32, rows)
		LayerNormRows(y, x, g, b, rows, d, eps, mean, rstd)
		dx, gg, gb := make([]float32, rows*d), make([]float32, d), make([]float32, d)
		LayerNormBackwardRows(dx, dy, x, g, mean, rstd, rows, d, gg, gb)
		wantGG, wantGB := make([]float64, d), make([]float64, d)
		for row := range rows {
			xr, dyr := x[row*d:(row+1)*d], dy[row*d:(row+1)*d]
			var mu, v float64
			for _, e := range xr {
				mu += float64(e)
			}
			mu /= float64(d)
			for _, e := range xr {
				v += (float64(e) - mu) * (float64(e) - mu)
			}
			rs := 1 / math.Sqrt(v/float64(d)+eps)
			var sumD, sumDX float64
			xh := make([]float64, d)
			for j, e := range xr {
				xh[j] = (float64(e) - mu) * rs
				dh := float64(dyr[j]) * float64(g[j])
				sumD += dh
				sumDX += dh * xh[j]
				wantGG[j] += float64(dyr[j]) * xh[j]
				wantGB[j] += float64(dyr[j])
			}
			for j := range xr {
				if got, want := float64(y[row*d+j]), xh[j]*float64(g[j])+float64(b[j]); math.Abs(got-want) > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("d=%d: LayerNormRows y[%d, %d] = %g, want %g", d, row, j, got, want)
				}
				dh := float64(dyr[j]) * float64(g[j])
				want := rs * (dh - sumD/float64(d) - xh[j]*sumDX/float64(d))
				if got := float64(dx[row*d+j]); math.Abs(got-want) > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("d=%d: LayerNormBackwardRows dx[%d, %d] = %g, want %g", d, row, j, got, want)
				}
			}
			var s, dot float64
			for j, e := range xr {
				s += float64(e)
				dot += float64(e) * float64(dyr[j])
			}
			if got := float64(Sum(xr)); math.Abs(got-s) > 1e-5*(1+math.Abs(s))*float64(d) {
				t.Fatalf("d=%d: Sum = %g, want %g", d, got, s)
			}
			if got := float64(Dot(xr, dyr)); math.Abs(got-dot) > 1e-5*(1+math.Abs(dot))*float64(d) {
				t.Fatalf("d=%d: Dot = %g, want %g", d, got, dot)
			}
		}
		for j := range d {
			if math.Abs(float64(gg[j])-wantGG[j]) > 1e-4*(1+math.Abs(wantGG[j])) || math.Abs(float64(gb[j])-wantGB[j]) > 1e-4*(1+math.Abs(wantGB[j])) {
				t.Fatalf("d=%d: LayerNormBackwardRows gg[%d], gb[%d] = %g, %g, want %g, %g", d, j, j, gg[j], gb[j], wantGG[j], wantGB[j])
			}
		}
	}
}

// chosenPaths names the path of each family the dispatchers choose now.
func chosenPaths() []string {
	bf16 := "bf16/fp32-kernel"
	if bk := nativeBF16Kernel(); bk != nil {
		bf16 = "bf16/" + bk.name
	}
	return []string{"gemm/" + kernel.name, "gemm/" + PackB(F32, false, 1, 1, []float32{0}, 1).mk.name, bf16,
		onOff("bf16-convert", useAVX2BF16), onOff("elementwise", useAVX2Act), onOff("layernorm", useAVX2Norm)}
}

// portablePaths are the paths every build has: the Go fallback of each
// family. force is a no-op for families whose switch is a constant in
// builds without assembly.
func portablePaths(setBF16, setAct, setNorm func(bool) func()) []kernelPath {
	return []kernelPath{
		gemmPath(kernelGo),
		bf16Path("bf16/fp32-kernel", nil),
		{name: "bf16-convert/go", force: func() func() { return setBF16(false) }, check: checkBF16Convert},
		{name: "elementwise/go", force: func() func() { return setAct(false) }, check: checkElementwise},
		{name: "layernorm/go", force: func() func() { return setNorm(false) }, check: checkLayerNorm},
	}
}

// String describes the path for logs.
func (p kernelPath) String() string {
	if len(p.needs) == 0 {
		return p.name + " (any CPU)"
	}
	var fs []string
	for _, f := range p.needs {
		fs = append(fs, f.name)
	}
	return fmt.Sprintf("%s (%s)", p.name, strings.Join(fs, "+"))
}

// TestKernelPathMissing checks the skip message of a path whose features
// the CPU lacks, which this machine's CPU may never show.
func TestKernelPathMissing(t *testing.T) {
	p := kernelPath{name: "bf16/avx512bf16", needs: []cpuFeature{{"AVX512F", true}, {"AVX512_BF16", false}}}
	if got := p.missing(); got != "AVX512_BF16" {
		t.Fatalf("missing() = %q, want AVX512_BF16", got)
	}
	if got := (kernelPath{name: "gemm/go"}).missing(); got != "" {
		t.Fatalf("a portable path lacks %q", got)
	}
}
