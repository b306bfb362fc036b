package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"unsafe"
)

// testKernels returns every microkernel this machine runs, each with its
// production blocking and with tiny blocks that push small shapes through
// every edge of the blocking loops.
func testKernels() []*microKernel {
	var ks []*microKernel
	for _, mk := range kernelsAvail {
		tiny := *mk
		tiny.name += "/tinyblocks"
		tiny.kc, tiny.mc, tiny.nc = 7, 2*mk.mr, 2*mk.nr
		ks = append(ks, mk, &tiny)
	}
	return ks
}

func randSlice(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = r.Float32()*2 - 1
	}
	return x
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	pad            int // extra row stride on A, B and C
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v %dx%dx%d alpha=%g beta=%g pad=%d", tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.pad)
}

// randOperands draws the operands A and B of an m×n×k product as stored
// (transposed or not), with pad spare floats at the end of each row.
func randOperands(r *rand.Rand, transA, transB bool, m, n, k, pad int) (a []float32, lda int, b []float32, ldb int) {
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	lda, ldb = ac+pad, bc+pad
	return randSlice(r, max(0, (ar-1)*lda+ac)), lda, randSlice(r, max(0, (br-1)*ldb+bc)), ldb
}

// checkCase runs one product through mk with the given workers and compares
// it with sgemmRef, including that C outside [m, n] is left alone.
func checkCase(t *testing.T, r *rand.Rand, mk *microKernel, workers int, tc gemmCase) []float32 {
	t.Helper()
	a, lda, b, ldb := randOperands(r, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.pad)
	ldc := tc.n + tc.pad
	c := randSlice(r, max(0, (tc.m-1)*ldc+tc.n)+ldc) // a spare row checks for overruns
	if tc.beta == 0 {
		for i := range tc.m {
			for j := range tc.n {
				c[i*ldc+j] = float32(math.NaN())
			}
		}
	}
	want := append([]float32(nil), c...)
	sgemmRef(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
	sgemm(mk, workers, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	tol := 2e-6 * float64(tc.k+4) * float64(abs32(tc.alpha)+abs32(tc.beta)+1)
	for i := range c {
		d := math.Abs(float64(c[i] - want[i]))
		if !(d <= tol) {
			t.Fatalf("%s workers=%d %v: C[%d, %d] = %g, want %g", mk.name, workers, tc, i/ldc, i%ldc, c[i], want[i])
		}
	}
	return c
}

func abs32(x float32) float32 { return float32(math.Abs(float64(x))) }

func TestSgemmPaths(t *testing.T) {
	defer func(old int) { parallelMinFlop = old }(parallelMinFlop)
	parallelMinFlop = 0 // run the parallel split even on tiny shapes
	sizes := []int{1, 2, 7, 13, 16, 31, 33, 50, 64, 197}
	scales := [][2]float32{{1, 0}, {1, 1}, {-0.5, 0.25}, {2, -1}}
	for _, mk := range testKernels() {
		t.Run(mk.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			for _, workers := range []int{1, 2, 3} {
				for trans := range 4 {
					for _, m := range sizes {
						for range 3 {
							tc := gemmCase{
								transA: trans&1 != 0, transB: trans&2 != 0,
								m: m, n: sizes[r.IntN(len(sizes))], k: sizes[r.IntN(len(sizes))],
								pad: r.IntN(3) * 5,
							}
							s := scales[r.IntN(len(scales))]
							tc.alpha, tc.beta = s[0], s[1]
							checkCase(t, r, mk, workers, tc)
						}
					}
				}
			}
		})
	}
}

// TestSgemmShapes checks the model's own awkward shapes (batch-1 ViT-Ti and
// attention heads) on every path, parallel and serial.
func TestSgemmShapes(t *testing.T) {
	cases := []gemmCase{
		{m: 197, n: 192, k: 192, alpha: 1},
		{transB: true, m: 197, n: 576, k: 192, alpha: 1},
		{transA: true, m: 192, n: 192, k: 197, alpha: 1, beta: 1},
		{transB: true, m: 197, n: 197, k: 64, alpha: 0.125},
		{m: 197, n: 64, k: 197, alpha: 1, pad: 3},
		{transB: true, m: 50, n: 50, k: 32, alpha: 0.17},
		{transA: true, transB: true, m: 100, n: 300, k: 520, alpha: 1, beta: 0.5},
	}
	for _, mk := range kernelsAvail {
		r := rand.New(rand.NewPCG(3, 4))
		for _, tc := range cases {
			checkCase(t, r, mk, 1, tc)
			checkCase(t, r, mk, 2, tc)
		}
	}
}

// TestSgemmDirect runs random products with awkward sizes through every
// kernel, packed (directNever), read in place wherever possible
// (directAlways) and as chosen (directAuto): each must match sgemmRef, and
// all three the same bits, since the in-place path does the same
// arithmetic on the same values. Kernels without a strided variant (none
// here but the AVX-512 one) run packed in all three.
func TestSgemmDirect(t *testing.T) {
	defer func(old int) { parallelMinFlop = old }(parallelMinFlop)
	defer func(old directMode) { direct = old }(direct)
	parallelMinFlop = 0
	sizes := []int{1, 5, 6, 7, 16, 17, 50, 197, 6400}
	scales := [][2]float32{{1, 0}, {1, 1}, {-0.5, 0.25}, {2, -1}, {0.5, 0}}
	modes := []directMode{directNever, directAlways, directAuto}
	for _, mk := range testKernels() {
		t.Run(mk.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, 8))
			n := 0
			for n < 60 {
				tc := gemmCase{
					transA: n&1 != 0, transB: n&2 != 0, // every combination 15 times
					m: sizes[r.IntN(len(sizes))], n: sizes[r.IntN(len(sizes))], k: sizes[r.IntN(len(sizes))],
					pad: r.IntN(3) * 3,
				}
				if tc.m*tc.n*tc.k > 3<<20 {
					continue // keep sgemmRef quick
				}
				n++
				s := scales[r.IntN(len(scales))]
				tc.alpha, tc.beta = s[0], s[1]
				workers := 1 + r.IntN(3)
				var first []float32
				for _, mode := range modes {
					direct = mode
					c := checkCase(t, rand.New(rand.NewPCG(uint64(n), 9)), mk, workers, tc)
					if first == nil {
						first = c
						continue
					}
					for i := range c {
						if math.Float32bits(c[i]) != math.Float32bits(first[i]) {
							t.Fatalf("workers=%d %v: direct=%v gives C[%d] = %g, packed %g", workers, tc, mode, i, c[i], first[i])
						}
					}
				}
			}
		})
	}
}

// TestChooseDirect checks the in-place policy on the shapes it was
// measured on, and that directAlways reads in place whatever it can.
func TestChooseDirect(t *testing.T) {
	defer func(old directMode) { direct = old }(direct)
	mk := &microKernel{name: "strided", mr: 6, nr: 16, strided: sgemmKernelGoStrided}
	cases := []struct {
		transA, transB, packedB bool
		m, n, k                 int
		a, b                    bool
	}{
		{false, true, false, 6400, 128, 128, true, false},    // proj forward
		{false, true, false, 6400, 384, 128, false, false},   // qkv forward
		{false, false, false, 6400, 128, 512, true, false},   // fc1 input gradient
		{true, false, false, 384, 128, 6400, false, false},   // qkv weight gradient
		{false, true, false, 50, 50, 32, true, false},        // attention scores
		{false, false, false, 50, 32, 50, true, true},        // attention values
		{true, false, false, 50, 32, 50, true, true},         // their weight gradient
		{false, false, true, 197, 192, 192, true, false},     // GemmPacked
		{false, false, false, 5, 32, 50, false, true},        // m < mr
		{false, false, false, 50, 15, 50, true, false},       // n < nr
		{false, false, false, 3152, 2304, 768, false, false}, // ViT-B
	}
	for _, tc := range cases {
		direct = directAuto
		a, b := chooseDirect(mk, tc.transA, tc.transB, tc.packedB, tc.m, tc.n, tc.k)
		if a != tc.a || b != tc.b {
			t.Errorf("%+v: chooseDirect = %v, %v", tc, a, b)
		}
		direct = directAlways
		a, b = chooseDirect(mk, tc.transA, tc.transB, tc.packedB, tc.m, tc.n, tc.k)
		if a != (tc.m >= mk.mr) || b != (!tc.transB && !tc.packedB && tc.n >= mk.nr) {
			t.Errorf("%+v: directAlways chooses %v, %v", tc, a, b)
		}
		direct = directNever
		if a, b = chooseDirect(mk, tc.transA, tc.transB, tc.packedB, tc.m, tc.n, tc.k); a || b {
			t.Errorf("%+v: directNever chooses %v, %v", tc, a, b)
		}
		direct = directAuto
		if a, b = chooseDirect(&microKernel{mr: 6, nr: 16}, tc.transA, tc.transB, tc.packedB, tc.m, tc.n, tc.k); a || b {
			t.Errorf("%+v: a kernel without a strided variant chooses %v, %v", tc, a, b)
		}
	}
}

// TestStridedKernels checks each strided kernel alone on packed panels
// (where it must give the packed kernel's bits) and on operands in place
// with every layout the driver uses, for short and odd k.
func TestStridedKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, mk := range kernelsAvail {
		if mk.strided == nil {
			continue
		}
		mr, nr := mk.mr, mk.nr
		for _, k := range []int{1, 2, 3, 4, 5, 8, 13, 64, 131} {
			for _, beta := range []float32{0, 1, -0.5} {
				// Packed: op(A)[r, p] = ap[p·mr + r], op(B)[p, x] = bp[p·nr + x].
				ap, bp := randSlice(r, mr*k), randSlice(r, nr*k)
				c0 := randSlice(r, mr*(nr+3))
				want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
				mk.fn(k, &ap[0], &bp[0], &want[0], nr+3, 1.5, beta)
				mk.strided(k, &ap[0], 1, mr, &bp[0], nr, &got[0], nr+3, 1.5, beta)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s k=%d beta=%g packed: C[%d] = %g, fn gives %g", mk.name, k, beta, i, got[i], want[i])
					}
				}
				// In place: A row-major or transposed, B row-major.
				for _, ta := range []bool{false, true} {
					lda, ldb := k+5, nr+7
					aRow, aStep := lda, 1
					ar := mr
					if ta {
						lda = mr + 9
						aRow, aStep, ar = 1, lda, k
					}
					a := randSlice(r, ar*lda)
					b := randSlice(r, k*ldb)
					for p := 0; p < k; p++ {
						for x := 0; x < mr; x++ {
							ap[p*mr+x] = a[x*aRow+p*aStep]
						}
						copy(bp[p*nr:p*nr+nr], b[p*ldb:])
					}
					want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
					if beta == 0 {
						for i := range got {
							got[i] = float32(math.NaN())
						}
					}
					mk.fn(k, &ap[0], &bp[0], &want[0], nr+3, -2, beta)
					mk.strided(k, &a[0], aRow, aStep, &b[0], ldb, &got[0], nr+3, -2, beta)
					for i := range got {
						if i%(nr+3) >= nr {
							continue // outside the tile: left as it was
						}
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s k=%d beta=%g transA=%v in place: C[%d] = %g, packed gives %g", mk.name, k, beta, ta, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

func TestSgemmDegenerate(t *testing.T) {
	c := []float32{1, 2, 3, float32(math.NaN())}
	Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0, c, 2)
	for i, v := range c {
		if v != 0 {
			t.Fatalf("k=0 beta=0: C[%d] = %g, want 0", i, v)
		}
	}
	c = []float32{1, 2, 3, 4}
	Sgemm(false, false, 2, 2, 1, 0, []float32{5, 6}, 1, []float32{7, 8}, 2, 2, c, 2)
	for i, v := range c {
		if v != float32(2*(i+1)) {
			t.Fatalf("alpha=0 beta=2: C[%d] = %g, want %d", i, v, 2*(i+1))
		}
	}
	Sgemm(false, false, 0, 5, 5, 1, nil, 5, make([]float32, 25), 5, 0, nil, 5)
}

func TestSgemmShortSlicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a short C")
		}
	}()
	Sgemm(false, false, 4, 4, 4, 1, make([]float32, 16), 4, make([]float32, 16), 4, 0, make([]float32, 15), 4)
}

func TestSgemmConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for range 5 {
				checkCase(t, r, kernel, Workers+1, gemmCase{transB: g%2 == 1, m: 150, n: 130, k: 140, alpha: 1})
			}
		}()
	}
	wg.Wait()
}

func TestSgemmAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	r := rand.New(rand.NewPCG(5, 6))
	a, b, c := randSlice(r, 256*256), randSlice(r, 256*256), randSlice(r, 256*256)
	par := func() { Sgemm(false, true, 256, 256, 256, 1, a, 256, b, 256, 0, c, 256) }
	parT := func() { Sgemm(true, false, 250, 130, 256, 1, a, 250, b, 130, 1, c, 130) }
	ser := func() { SgemmSerial(false, false, 50, 50, 32, 1, a, 32, b, 50, 0, c, 50) }
	serT := func() { SgemmSerial(true, false, 50, 32, 50, 1, a, 50, b, 32, 0, c, 32) }
	defer func(old directMode) { direct = old }(direct)
	for _, mode := range []directMode{directAuto, directNever, directAlways} {
		direct = mode
		for i, f := range []func(){par, parT, ser, serT} {
			f()
			if n := testing.AllocsPerRun(50, f); n > 0.1 {
				t.Errorf("direct=%v, product %d: %v allocations per call, want 0", mode, i, n)
			}
		}
	}
}

// genericKernel is a plain-Go mr×nr microkernel for tests: with asmPack it
// checks the assembly packing for tile shapes this CPU has no kernel for
// (the AVX-512 12×32 layout on an AVX2-only machine).
func genericKernel(mr, nr int) func(k int, a, b, c *float32, ldc int, alpha, beta float32) {
	return func(k int, a, b, c *float32, ldc int, alpha, beta float32) {
		as, bs := unsafe.Slice(a, mr*k), unsafe.Slice(b, nr*k)
		cs := unsafe.Slice(c, (mr-1)*ldc+nr)
		for r := 0; r < mr; r++ {
			for x := 0; x < nr; x++ {
				var s float32
				for p := 0; p < k; p++ {
					s += as[p*mr+r] * bs[p*nr+x]
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

func TestAsmPackingLayouts(t *testing.T) {
	if len(kernelsAvail) == 1 || !kernelsAvail[0].asmPack {
		t.Skip("no assembly packing on this CPU")
	}
	defer func(old int) { parallelMinFlop = old }(parallelMinFlop)
	parallelMinFlop = 0
	for _, sh := range [][2]int{{12, 32}, {6, 16}, {12, 16}, {6, 32}} {
		mk := &microKernel{name: fmt.Sprintf("generic%dx%d", sh[0], sh[1]), mr: sh[0], nr: sh[1],
			kc: 40, mc: 4 * sh[0], nc: 3 * sh[1], fn: genericKernel(sh[0], sh[1]), asmPack: true}
		r := rand.New(rand.NewPCG(11, 12))
		for trans := range 4 {
			for _, m := range []int{1, 12, 13, 50} {
				tc := gemmCase{transA: trans&1 != 0, transB: trans&2 != 0, m: m, n: 70, k: 45, alpha: 1, beta: 0.5, pad: 3}
				checkCase(t, r, mk, 2, tc)
			}
		}
	}
}

// TestDeepProducts runs weight-gradient-like products (k far deeper than m
// and n, k not a multiple of the k block) through the deep-k path, on two
// workers (k split) and on one (k walked block by block into C), with and
// without prefetching each worker's next k block: all must match sgemmRef,
// and the two prefetch settings each other bit for bit (prefetching only
// moves data).
func TestDeepProducts(t *testing.T) {
	defer func(old bool) { deepPrefetch = old }(deepPrefetch)
	cases := []gemmCase{
		{transA: true, m: 40, n: 24, k: 6400 - 37, alpha: 1, beta: 1},
		{transA: true, m: 7, n: 33, k: 4100, alpha: 0.5, pad: 5},
		{transA: true, transB: true, m: 30, n: 17, k: 3000, alpha: 1},
		{m: 12, n: 20, k: 2500, alpha: 1, beta: -1, pad: 2},
	}
	for _, mk := range testKernels() {
		for _, tc := range cases {
			for _, workers := range []int{2, 1} {
				if !useDeepK(workers, tc.m, tc.n, tc.k) {
					t.Fatalf("%v on %d workers does not take the deep-k path", tc, workers)
				}
				var first []float32
				for _, pf := range []bool{false, true} {
					deepPrefetch = pf
					c := checkCase(t, rand.New(rand.NewPCG(5, uint64(tc.k))), mk, workers, tc)
					if first == nil {
						first = c
						continue
					}
					for i := range c {
						if math.Float32bits(c[i]) != math.Float32bits(first[i]) {
							t.Fatalf("%s %v, %d workers: C[%d] = %g with prefetching, %g without", mk.name, tc, workers, i, c[i], first[i])
						}
					}
				}
			}
		}
	}
}
