package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

func TestParseDType(t *testing.T) {
	for s, want := range map[string]DType{
		"fp32": F32, "f32": F32, "float32": F32, "FP32": F32,
		"bf16": BF16, "bfloat16": BF16, "BF16": BF16,
	} {
		got, err := ParseDType(s)
		if err != nil || got != want {
			t.Errorf("ParseDType(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, d := range []DType{F32, BF16} {
		if got, err := ParseDType(d.String()); err != nil || got != d {
			t.Errorf("ParseDType(%v.String()) = %v, %v", d, got, err)
		}
	}
	if F32.String() != "fp32" || BF16.String() != "bf16" {
		t.Errorf("String: %q %q", F32.String(), BF16.String())
	}
	_, err := ParseDType("fp16")
	if err == nil || !strings.Contains(err.Error(), "fp32") || !strings.Contains(err.Error(), "bf16") {
		t.Errorf("ParseDType(fp16) error = %v, want one naming the valid formats", err)
	}
}

// bf16Cases are inputs with the bf16 bits toBF16 (and VCVTNE2PS2BF16) must
// give them.
var bf16Cases = []struct {
	in   uint32
	want uint16
}{
	{0x3f800000, 0x3f80}, // 1
	{0xbf800000, 0xbf80}, // -1
	{0x3f808000, 0x3f80}, // tie, even below: down
	{0x3f818000, 0x3f82}, // tie, odd below: up
	{0xbf818000, 0xbf82}, // negative tie up (away from zero in magnitude)
	{0x3f808001, 0x3f81}, // above the tie
	{0x3f807fff, 0x3f80}, // below the tie
	{0x3fffffff, 0x4000}, // carry into the exponent
	{0x7f7fffff, 0x7f80}, // largest float rounds to +Inf
	{0xff7fffff, 0xff80}, // and its negative to -Inf
	{0x7f7f7fff, 0x7f7f}, // largest finite bf16 stays
	{0x7f800000, 0x7f80}, // +Inf
	{0xff800000, 0xff80}, // -Inf
	{0x7fc00000, 0x7fc0}, // quiet NaN
	{0xffc00001, 0xffc0}, // negative quiet NaN, low payload dropped
	{0x7f800001, 0x7fc0}, // signalling NaN whose payload is all in the low half: quieted, not Inf
	{0x7f810000, 0x7fc1}, // signalling NaN: payload kept, quieted
	{0x00000000, 0x0000}, // +0
	{0x80000000, 0x8000}, // -0
	{0x00000001, 0x0000}, // smallest denormal: flushed
	{0x007fffff, 0x0000}, // largest denormal: flushed (would round up to a normal)
	{0x807fffff, 0x8000}, // negative denormal: -0
	{0x00800000, 0x0080}, // smallest normal stays
	{0x00807fff, 0x0080},
	{0x0080ffff, 0x0081},
}

func TestToBF16(t *testing.T) {
	for _, tc := range bf16Cases {
		if got := toBF16(math.Float32frombits(tc.in)); got != tc.want {
			t.Errorf("toBF16(%#08x) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
	// Against the definition on random normal values: the nearest bf16,
	// ties to even.
	r := rand.New(rand.NewPCG(7, 8))
	for range 100000 {
		b := r.Uint32()
		x := math.Float32frombits(b)
		e := b & 0x7f800000
		if e == 0 || e == 0x7f800000 {
			continue
		}
		got := toBF16(x)
		// x lies between lo (truncated) and lo + ulp in magnitude; past the
		// largest bf16, lo + ulp is 2¹²⁸, which rounds to Inf.
		lo := math.Abs(float64(math.Float32frombits(b &^ 0xffff)))
		hi := lo + math.Ldexp(1, int(e>>23)-127-7)
		dl, dh := math.Abs(float64(x))-lo, hi-math.Abs(float64(x))
		want := uint16(b >> 16)
		if dh < dl || (dh == dl && want&1 == 1) {
			want++
		}
		if got != want {
			t.Fatalf("toBF16(%#08x) = %#04x, want %#04x", b, got, want)
		}
	}
}

// bf16TestInputs are the special values and random bit patterns the
// assembly conversion is checked on.
func bf16TestInputs(n int) []float32 {
	x := make([]float32, 0, n)
	for _, tc := range bf16Cases {
		x = append(x, math.Float32frombits(tc.in))
	}
	r := rand.New(rand.NewPCG(9, 10))
	for len(x) < n {
		x = append(x, math.Float32frombits(r.Uint32()))
	}
	return x
}

// TestRoundWidenBF16 checks roundBF16s and widenBF16 (AVX2 where the CPU
// has it) against toBF16 and fromBF16, on special values and random bits,
// for every length up to 40 and a long one.
func TestRoundWidenBF16(t *testing.T) {
	if !useAVX2BF16 {
		t.Log("no AVX2 here: the Go loops are checked")
	}
	in := bf16TestInputs(1000)
	for n := range 1001 {
		if n > 40 && n != 1000 {
			continue
		}
		x := append([]float32(nil), in[len(in)-n:]...)
		roundBF16s(x)
		for i, v := range x {
			if got, want := math.Float32bits(v), uint32(toBF16(in[len(in)-n+i]))<<16; got != want {
				t.Fatalf("n=%d: roundBF16s(%#08x) = %#08x, want %#08x", n, math.Float32bits(in[len(in)-n+i]), got, want)
			}
		}
		h := make([]uint16, n)
		for i := range h {
			h[i] = uint16(math.Float32bits(in[i]))
		}
		w := make([]float32, n+1)
		w[n] = 7
		widenBF16(w, h)
		for i := range h {
			if math.Float32bits(w[i]) != uint32(h[i])<<16 {
				t.Fatalf("n=%d: widenBF16(%#04x) = %#08x", n, h[i], math.Float32bits(w[i]))
			}
		}
		if w[n] != 7 {
			t.Fatalf("n=%d: widenBF16 wrote past its source", n)
		}
	}
}

func TestCvtRowsBF16(t *testing.T) {
	if len(bf16KernelsAvail) == 0 || !bf16KernelsAvail[0].asmCvt {
		t.Skip("no AVX512_BF16 on this CPU: VCVTNE2PS2BF16 not tested (toBF16 stands in for it)")
	}
	const rows, lds, ldd, n32 = 5, 32*40 + 3, 32*40 + 16, 40
	src := bf16TestInputs(rows * lds)
	dst := make([]uint16, rows*ldd)
	for i := range dst {
		dst[i] = 0xdead
	}
	cvtRowsBF16(&dst[0], ldd, &src[0], lds, rows, n32)
	for r := range rows {
		for x := range ldd {
			got := dst[r*ldd+x]
			want := uint16(0xdead)
			if x < 32*n32 {
				want = toBF16(src[r*lds+x])
			}
			if got != want {
				t.Fatalf("row %d col %d: %#08x converts to %#04x, want %#04x",
					r, x, math.Float32bits(src[r*lds+x]), got, want)
			}
		}
	}
}

// bf16PairsKernelGo is a plain-Go bf16Kernel.fn for an mr×nr tile, summing
// as the pseudo-code of VDPBF16PS does (per pair the high product, then the
// low one, each added with one rounding; bf16 products are exact in
// float32). It tests the k-pair layouts and blocking on any CPU.
func bf16PairsKernelGo(mr, nr int) func(kp int, a, b *uint16, c *float32, ldc int, alpha, beta float32) {
	return func(kp int, a, b *uint16, c *float32, ldc int, alpha, beta float32) {
		as, bs := unsafe.Slice(a, mr*2*kp), unsafe.Slice(b, nr*2*kp)
		cs := unsafe.Slice(c, (mr-1)*ldc+nr)
		for r := range mr {
			for x := range nr {
				var s float32
				for q := range kp {
					ai, bi := r*2*kp+2*q, (q*nr+x)*2
					s += fromBF16(as[ai+1]) * fromBF16(bs[bi+1])
					s += fromBF16(as[ai]) * fromBF16(bs[bi])
				}
				if beta == 0 {
					cs[r*ldc+x] = alpha * s
				} else {
					cs[r*ldc+x] = alpha*s + beta*cs[r*ldc+x]
				}
			}
		}
	}
}

// testBF16Kernels returns the bf16-pair kernels of this CPU and plain-Go
// ones in the same layout, each with its blocking and with tiny blocks.
func testBF16Kernels() []*bf16Kernel {
	ks := append([]*bf16Kernel(nil), bf16KernelsAvail...)
	ks = append(ks,
		&bf16Kernel{name: "go12x32", mr: 12, nr: 32, kc: 256, mc: 192, nc: 3072, fn: bf16PairsKernelGo(12, 32)},
		&bf16Kernel{name: "go4x8", mr: 4, nr: 8, kc: 64, mc: 32, nc: 256, fn: bf16PairsKernelGo(4, 8)})
	var out []*bf16Kernel
	for _, bk := range ks {
		tiny := *bk
		tiny.name += "/tinyblocks"
		tiny.kc, tiny.mc, tiny.nc = 6, 2*bk.mr, 2*bk.nr
		out = append(out, bk, &tiny)
	}
	return out
}

// packedCase is one GemmPacked product: C[m, n] = alpha·A[m, k]·op(B) + beta·C.
type packedCase struct {
	transB      bool
	m, n, k     int
	alpha, beta float32
	pad         int // extra row stride on A, B and C
}

func (tc packedCase) String() string {
	return fmt.Sprintf("tB=%v %dx%dx%d alpha=%g beta=%g pad=%d", tc.transB, tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.pad)
}

type packedData struct {
	a, b, c       []float32 // c: initial C (NaN inside [m, n] when beta is 0)
	lda, ldb, ldc int
}

func (tc packedCase) data(r *rand.Rand) packedData {
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	d := packedData{lda: tc.k + tc.pad, ldb: bc + tc.pad, ldc: tc.n + tc.pad}
	d.a = randSlice(r, max(0, (tc.m-1)*d.lda+tc.k))
	d.b = randSlice(r, max(0, (br-1)*d.ldb+bc))
	d.c = randSlice(r, max(0, (tc.m-1)*d.ldc+tc.n)+d.ldc) // a spare row checks for overruns
	if tc.beta == 0 {
		for i := range tc.m {
			for j := range tc.n {
				d.c[i*d.ldc+j] = float32(math.NaN())
			}
		}
	}
	return d
}

// run packs B for mk (and bk) and returns C after gemmPacked on workers.
func (d packedData) run(tc packedCase, mk *microKernel, bk *bf16Kernel, dt DType, workers int) []float32 {
	p := packBWith(mk, bk, dt, tc.transB, tc.k, tc.n, d.b, d.ldb)
	c := append([]float32(nil), d.c...)
	gemmPacked(workers, tc.m, tc.alpha, d.a, d.lda, p, tc.beta, c, d.ldc)
	return c
}

// bAt is op(B)[p, j].
func (d packedData) bAt(tc packedCase, p, j int) float32 {
	if tc.transB {
		return d.b[j*d.ldb+p]
	}
	return d.b[p*d.ldb+j]
}

// checkBF16 compares C with the product of the bf16-rounded operands summed
// in float64, within float32 accumulation error, and checks that C outside
// [m, n] is untouched.
func (d packedData) checkBF16(t *testing.T, what string, tc packedCase, c []float32) {
	t.Helper()
	for i := range tc.m {
		for j := range tc.n {
			var s, abs float64
			for p := range tc.k {
				x := float64(fromBF16(toBF16(d.a[i*d.lda+p]))) * float64(fromBF16(toBF16(d.bAt(tc, p, j))))
				s += x
				abs += math.Abs(x)
			}
			want := float64(tc.alpha) * s
			bound := math.Abs(float64(tc.alpha)) * abs
			if tc.beta != 0 {
				c0 := float64(tc.beta) * float64(d.c[i*d.ldc+j])
				want += c0
				bound += math.Abs(c0)
			}
			tol := 0x1p-22*float64(tc.k+4)*bound + 1e-37
			got := c[i*d.ldc+j]
			if !(math.Abs(float64(got)-want) <= tol) {
				t.Fatalf("%s %v: C[%d, %d] = %g, want %g ± %g", what, tc, i, j, got, want, tol)
			}
		}
	}
	d.checkOutside(t, what, tc, c)
}

func (d packedData) checkOutside(t *testing.T, what string, tc packedCase, c []float32) {
	t.Helper()
	for i := range c {
		if r, x := i/d.ldc, i%d.ldc; r >= tc.m || x >= tc.n {
			if math.Float32bits(c[i]) != math.Float32bits(d.c[i]) {
				t.Fatalf("%s %v: C[%d, %d] outside the product changed", what, tc, r, x)
			}
		}
	}
}

// packedCases returns random products with awkward sizes: m from ms, n and k
// odd, prime, 1 or around the tile sizes, both layouts of B, every scaling.
func packedCases(r *rand.Rand, ms []int, per int) []packedCase {
	sizes := []int{1, 2, 3, 7, 13, 16, 17, 31, 33, 50, 64, 65, 97, 197}
	scales := [][2]float32{{1, 0}, {1, 1}, {-0.5, 0.25}, {2, -1}, {0.125, 0}}
	var cs []packedCase
	for _, m := range ms {
		for range per {
			s := scales[r.IntN(len(scales))]
			cs = append(cs, packedCase{
				transB: r.IntN(2) == 1,
				m:      m, n: sizes[r.IntN(len(sizes))], k: sizes[r.IntN(len(sizes))],
				alpha: s[0], beta: s[1], pad: r.IntN(3) * 5,
			})
		}
	}
	return cs
}

// bigCases are the tall products (many row blocks, several k blocks).
var bigCases = []packedCase{
	{m: 3152, n: 40, k: 17, alpha: 1},
	{transB: true, m: 197, n: 576, k: 192, alpha: 1},
	{m: 197, n: 70, k: 300, alpha: 1, beta: 1, pad: 3},
	{transB: true, m: 50, n: 33, k: 769, alpha: 0.5, beta: -1},
}

func TestGemmPackedF32(t *testing.T) {
	defer func(old int) { parallelMinFlop = old }(parallelMinFlop)
	parallelMinFlop = 0
	defer func(old directMode) { direct = old }(direct)
	for _, mode := range []directMode{directAuto, directNever, directAlways} {
		direct = mode
		testGemmPackedF32(t, "direct="+mode.String())
	}
}

// testGemmPackedF32 is TestGemmPackedF32 under one in-place policy: A is
// read in place or packed alike by GemmPacked and Sgemm.
func testGemmPackedF32(t *testing.T, name string) {
	for _, mk := range testKernels() {
		t.Run(name+"/"+mk.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(21, 22))
			cases := append(packedCases(r, []int{1, 2, 5, 12, 13, 50, 197}, 4), bigCases...)
			for i, tc := range cases {
				workers := 1 + i%3
				d := tc.data(r)
				got := d.run(tc, mk, nil, F32, workers)
				// Sgemm with the same kernel gives the same bits...
				want := append([]float32(nil), d.c...)
				sgemm(mk, workers, false, tc.transB, tc.m, tc.n, tc.k, tc.alpha, d.a, d.lda, d.b, d.ldb, tc.beta, want, d.ldc)
				for x := range got {
					if math.Float32bits(got[x]) != math.Float32bits(want[x]) {
						t.Fatalf("%v workers=%d: C[%d, %d] = %g, Sgemm gives %g", tc, workers, x/d.ldc, x%d.ldc, got[x], want[x])
					}
				}
				// ... and both are the product.
				ref := append([]float32(nil), d.c...)
				sgemmRef(false, tc.transB, tc.m, tc.n, tc.k, tc.alpha, d.a, d.lda, d.b, d.ldb, tc.beta, ref, d.ldc)
				tol := 2e-6 * float64(tc.k+4) * float64(abs32(tc.alpha)+abs32(tc.beta)+1)
				for x := range got {
					if diff := math.Abs(float64(got[x] - ref[x])); !(diff <= tol) {
						t.Fatalf("%v: C[%d, %d] = %g, want %g", tc, x/d.ldc, x%d.ldc, got[x], ref[x])
					}
				}
			}
		})
	}
}

// TestGemmPackedBF16Fallback checks BF16 on the fp32 kernels: the product
// of the rounded operands, and exactly Sgemm's on pre-rounded operands.
func TestGemmPackedBF16Fallback(t *testing.T) {
	defer func(old int) { parallelMinFlop = old }(parallelMinFlop)
	parallelMinFlop = 0
	for _, mk := range testKernels() {
		t.Run(mk.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(23, 24))
			cases := append(packedCases(r, []int{1, 3, 12, 50, 197}, 4), bigCases...)
			for i, tc := range cases {
				workers := 1 + i%3
				d := tc.data(r)
				got := d.run(tc, mk, nil, BF16, workers)
				d.checkBF16(t, mk.name, tc, got)
				ra, rb := append([]float32(nil), d.a...), append([]float32(nil), d.b...)
				roundBF16s(ra)
				roundBF16s(rb)
				want := append([]float32(nil), d.c...)
				sgemm(mk, workers, false, tc.transB, tc.m, tc.n, tc.k, tc.alpha, ra, d.lda, rb, d.ldb, tc.beta, want, d.ldc)
				for x := range got {
					if math.Float32bits(got[x]) != math.Float32bits(want[x]) {
						t.Fatalf("%v: C[%d, %d] = %g, Sgemm on rounded operands gives %g", tc, x/d.ldc, x%d.ldc, got[x], want[x])
					}
				}
			}
		})
	}
}

// TestGemmPackedBF16Pairs checks BF16 on the k-pair kernels: the assembly
// one where the CPU has AVX512_BF16, and plain-Go ones in its layout.
func TestGemmPackedBF16Pairs(t *testing.T) {
	if len(bf16KernelsAvail) == 0 {
		t.Log("no AVX512_BF16 on this CPU: only the plain-Go k-pair kernels run")
	}
	defer func(old int) { parallelMinFlop = old }(parallelMinFlop)
	parallelMinFlop = 0
	for _, bk := range testBF16Kernels() {
		t.Run(bk.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(25, 26))
			cases := append(packedCases(r, []int{1, 4, 12, 13, 50, 197}, 4), bigCases...)
			for i, tc := range cases {
				d := tc.data(r)
				got := d.run(tc, kernel, bk, BF16, 1+i%3)
				d.checkBF16(t, bk.name, tc, got)
			}
		})
	}
}

// TestNativeBF16MatchesFallback runs the ViT products through the bf16
// instructions and through the fp32 fallback: they sum the same rounded
// products in a different order, so they agree to float32 accumulation
// error. It logs how many results agree bit for bit.
func TestNativeBF16MatchesFallback(t *testing.T) {
	if len(bf16KernelsAvail) == 0 {
		t.Skip("no AVX512_BF16 on this CPU: native BF16 kernel not tested")
	}
	bk := bf16KernelsAvail[0]
	cases := []packedCase{
		{transB: true, m: 197, n: 576, k: 192, alpha: 1},
		{transB: true, m: 197, n: 192, k: 768, alpha: 1, beta: 1},
		{m: 394, n: 768, k: 768, alpha: 1},
		{m: 100, n: 3072, k: 769, alpha: -0.5, beta: 0.25, pad: 7},
	}
	r := rand.New(rand.NewPCG(27, 28))
	for _, tc := range cases {
		d := tc.data(r)
		native := d.run(tc, kernel, bk, BF16, Workers)
		fallback := d.run(tc, kernel, nil, BF16, Workers)
		same, worst := 0, 0.0
		for i := range tc.m {
			for j := range tc.n {
				x := i*d.ldc + j
				if native[x] == fallback[x] {
					same++
				}
				var abs float64
				for p := range tc.k {
					abs += math.Abs(float64(fromBF16(toBF16(d.a[i*d.lda+p])) * fromBF16(toBF16(d.bAt(tc, p, j)))))
				}
				bound := math.Abs(float64(tc.alpha)) * abs
				if tc.beta != 0 {
					bound += math.Abs(float64(tc.beta) * float64(d.c[x]))
				}
				diff := math.Abs(float64(native[x] - fallback[x]))
				worst = max(worst, diff/bound)
				if !(diff <= 0x1p-22*float64(tc.k+4)*bound+1e-37) {
					t.Fatalf("%v: C[%d, %d]: native %g, fallback %g", tc, i, j, native[x], fallback[x])
				}
			}
		}
		d.checkOutside(t, "native", tc, native)
		t.Logf("%v: %d of %d results bit-identical, worst difference %.3g of Σ|products|", tc, same, tc.m*tc.n, worst)
	}
}

// TestBF16Selection checks that PackB(BF16) follows NativeBF16 and logs
// the kernel rates behind the choice.
func TestBF16Selection(t *testing.T) {
	native := NativeBF16()
	p := PackB(BF16, false, 3, 5, make([]float32, 15), 5)
	if (p.bk != nil) != native || (p.mk == nil) == (p.bk == nil) {
		t.Fatalf("NativeBF16() = %v, but PackB(BF16) packs for %v / %v", native, p.mk, p.bk)
	}
	if q := PackB(F32, false, 3, 5, make([]float32, 15), 5); q.bk != nil || q.mk != kernel {
		t.Fatal("PackB(F32) does not pack for the fp32 kernel")
	}
	if len(bf16KernelsAvail) == 0 {
		t.Skip("no AVX512_BF16 on this CPU: BF16 runs on the fp32 kernel")
	}
	t.Logf("one core: %s kernel %.1f GFLOP/s, %s kernel %.1f GFLOP/s; NativeBF16() = %v",
		bf16KernelsAvail[0].name, bf16KernelRate(bf16KernelsAvail[0])/1e9, kernel.name, fp32KernelRate(kernel)/1e9, native)
}

// TestBF16KernelAsm checks the assembly k-pair kernel on one tile against
// the plain-Go one, including special values (Inf, NaN) and beta.
func TestBF16KernelAsm(t *testing.T) {
	if len(bf16KernelsAvail) == 0 {
		t.Skip("no AVX512_BF16 on this CPU: VDPBF16PS kernel not tested")
	}
	bk := bf16KernelsAvail[0]
	ref := bf16PairsKernelGo(bk.mr, bk.nr)
	r := rand.New(rand.NewPCG(29, 30))
	for _, kp := range []int{1, 2, 3, 4, 5, 8, 37, 128} {
		for _, beta := range []float32{0, 1, -0.5} {
			a := make([]uint16, bk.mr*2*kp)
			b := make([]uint16, bk.nr*2*kp)
			for i := range a {
				a[i] = toBF16(r.Float32()*2 - 1)
			}
			for i := range b {
				b[i] = toBF16(r.Float32()*2 - 1)
			}
			if kp == 5 { // Inf and NaN reach their rows and columns
				a[0] = toBF16(float32(math.Inf(1)))
				b[2*bk.nr+3] = toBF16(float32(math.NaN()))
			}
			const ldc = 40
			c0 := randSlice(r, (bk.mr-1)*ldc+bk.nr)
			got, want := append([]float32(nil), c0...), append([]float32(nil), c0...)
			bk.fn(kp, &a[0], &b[0], &got[0], ldc, 1.5, beta)
			ref(kp, &a[0], &b[0], &want[0], ldc, 1.5, beta)
			same := 0
			for i := range got {
				if math.Float32bits(got[i]) == math.Float32bits(want[i]) {
					same++
					continue
				}
				g, w := float64(got[i]), float64(want[i])
				if math.IsNaN(g) && math.IsNaN(w) || g == w {
					same++
					continue
				}
				if !(math.Abs(g-w) <= 1e-5*float64(kp)+1e-6*math.Abs(w)) {
					t.Fatalf("kp=%d beta=%g: C[%d, %d] = %g, want %g", kp, beta, i/ldc, i%ldc, g, w)
				}
			}
			if kp == 128 && beta == 1 {
				t.Logf("kp=128: %d of %d equal to the pseudo-code's order", same, len(got))
			}
		}
	}
}

func TestGemmPackedDegenerate(t *testing.T) {
	for _, dt := range []DType{F32, BF16} {
		p := PackB(dt, false, 0, 2, nil, 2)
		c := []float32{1, 2, 3, float32(math.NaN())}
		GemmPacked(2, 1, nil, 1, p, 0, c, 2)
		for i, v := range c {
			if v != 0 {
				t.Fatalf("%v k=0 beta=0: C[%d] = %g, want 0", dt, i, v)
			}
		}
		p = PackB(dt, false, 1, 2, []float32{7, 8}, 2)
		c = []float32{1, 2, 3, 4}
		GemmPacked(2, 0, []float32{5, 6}, 1, p, 2, c, 2)
		for i, v := range c {
			if v != float32(2*(i+1)) {
				t.Fatalf("%v alpha=0 beta=2: C[%d] = %g, want %d", dt, i, v, 2*(i+1))
			}
		}
		GemmPacked(0, 1, nil, 1, p, 0, nil, 2)
		p = PackB(dt, true, 3, 0, nil, 3)
		GemmPacked(4, 1, make([]float32, 12), 3, p, 0, nil, 0)
		if p.K() != 3 || p.N() != 0 || p.DType() != dt {
			t.Fatalf("%v: K, N, DType = %d, %d, %v", dt, p.K(), p.N(), p.DType())
		}
	}
}

func TestGemmPackedPanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	p := PackB(F32, false, 4, 4, make([]float32, 16), 4)
	mustPanic("short B", func() { PackB(F32, true, 4, 4, make([]float32, 15), 4) })
	mustPanic("bad dtype", func() { PackB(DType(7), false, 1, 1, []float32{1}, 1) })
	mustPanic("short A", func() { GemmPacked(4, 1, make([]float32, 15), 4, p, 0, make([]float32, 16), 4) })
	mustPanic("short C", func() { GemmPacked(4, 1, make([]float32, 16), 4, p, 0, make([]float32, 15), 4) })
	mustPanic("small lda", func() { GemmPacked(4, 1, make([]float32, 64), 3, p, 0, make([]float32, 16), 4) })
}

func TestPackedBBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	const k, n = 768, 300
	b := randSlice(r, k*n)
	f, h := PackB(F32, false, k, n, b, n), PackB(BF16, false, k, n, b, n)
	if f.K() != k || f.N() != n || f.DType() != F32 || h.DType() != BF16 {
		t.Fatalf("accessors: %d %d %v %v", f.K(), f.N(), f.DType(), h.DType())
	}
	if f.Bytes() < 4*k*n || f.Bytes() > 4*k*(n+64)+4096 {
		t.Errorf("F32 Bytes = %d for %d×%d", f.Bytes(), k, n)
	}
	if h.Bytes() < 2*k*n || h.Bytes() > 2*(k+64)*(n+64)+4096 {
		t.Errorf("BF16 Bytes = %d for %d×%d", h.Bytes(), k, n)
	}
}

// TestGemmPackedConcurrent runs products with one PackedB from several
// goroutines at once, each with more workers than there are helpers.
func TestGemmPackedConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for _, dt := range []DType{F32, BF16} {
		tc := packedCase{transB: true, m: 150, n: 130, k: 140, alpha: 1}
		d := tc.data(r)
		p := PackB(dt, tc.transB, tc.k, tc.n, d.b, d.ldb)
		want := append([]float32(nil), d.c...)
		gemmPacked(1, tc.m, tc.alpha, d.a, d.lda, p, tc.beta, want, d.ldc)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 5 {
					c := append([]float32(nil), d.c...)
					gemmPacked(Workers+1, tc.m, tc.alpha, d.a, d.lda, p, tc.beta, c, d.ldc)
					for x := range c {
						if math.Float32bits(c[x]) != math.Float32bits(want[x]) {
							t.Errorf("%v: C[%d] = %g, serial gives %g", dt, x, c[x], want[x])
							return
						}
					}
				}
			}()
		}
		wg.Wait()
	}
}

func TestGemmPackedAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	r := rand.New(rand.NewPCG(35, 36))
	a, b, c := randSlice(r, 256*256), randSlice(r, 256*256), randSlice(r, 256*256)
	for _, dt := range []DType{F32, BF16} {
		p := PackB(dt, true, 256, 256, b, 256)
		q := PackB(dt, false, 32, 50, b, 50)
		par := func() { GemmPacked(256, 1, a, 256, p, 0, c, 256) }
		small := func() { GemmPacked(50, 1, a, 32, q, 1, c, 50) }
		for _, f := range []func(){par, small} {
			f()
			if n := testing.AllocsPerRun(50, f); n > 0.1 {
				t.Errorf("%v: %v allocations per call, want 0", dt, n)
			}
		}
	}
}

func TestPeak(t *testing.T) {
	for _, dt := range []DType{F32, BF16} {
		for _, workers := range []int{1, 2} {
			start := time.Now()
			flops, how := Peak(dt, workers, 3*time.Millisecond)
			if !(flops > 0) || math.IsInf(flops, 0) || how == "" {
				t.Errorf("Peak(%v, %d) = %g, %q", dt, workers, flops, how)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("Peak(%v, %d) took %v", dt, workers, el)
			}
			t.Logf("Peak(%v, %d workers) = %.1f GFLOP/s (%s)", dt, workers, flops/1e9, how)
		}
	}
	if _, how := Peak(BF16, 1, 0); NativeBF16() != (how == "avx512 bf16 dot") {
		t.Errorf("Peak(BF16) runs %q with NativeBF16() = %v", how, NativeBF16())
	}
}
