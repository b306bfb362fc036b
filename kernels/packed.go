package kernels

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// DType is the number format of a packed operand.
type DType int

const (
	F32  DType = iota // float32
	BF16              // bfloat16 (round to nearest even), products accumulated in float32
)

// String returns "fp32" or "bf16".
func (d DType) String() string {
	switch d {
	case F32:
		return "fp32"
	case BF16:
		return "bf16"
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// ParseDType reads a number format: "fp32", "f32" or "float32" for F32,
// "bf16" or "bfloat16" for BF16 (case does not matter).
func ParseDType(s string) (DType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "fp32", "f32", "float32":
		return F32, nil
	case "bf16", "bfloat16":
		return BF16, nil
	}
	return 0, fmt.Errorf("kernels: unknown number format %q (valid: fp32, f32, float32, bf16, bfloat16)", s)
}

func (d DType) check() {
	if d != F32 && d != BF16 {
		panic(fmt.Sprintf("kernels: invalid %v", d))
	}
}

// bf16Kernel describes a register-tile kernel on bf16 pairs and its
// blocking, like microKernel.
//
// fn computes an mr×nr tile C = alpha·Ap·Bp + beta·C over kp k-pairs. A
// k-pair word is 32 bits holding the bf16 values of k steps 2q and 2q+1,
// the lower step in the low half (odd k is padded with a zero). Ap holds mr
// rows of kp words, row r at Ap[2·kp·r:]; Bp holds kp steps of nr words, one
// per column, step q at Bp[2·nr·q:]; C has row stride ldc floats. beta = ±0
// does not read C. With VDPBF16PS each pair costs one instruction per 16
// columns: two multiply-adds per lane.
type bf16Kernel struct {
	name   string
	mr, nr int // register tile
	kc     int // depth of a k block, even (a kc×nr bf16 B micro-panel stays in L1)
	mc     int // most rows of a packed A block
	nc     int // most columns per column block
	fn     func(kp int, a, b *uint16, c *float32, ldc int, alpha, beta float32)
	asmCvt bool // convert A with cvtRowsBF16
}

// bf16KernelsAvail lists the bf16-pair kernels this CPU runs, fastest
// first: AVX512_BF16's, or none. Tests run every one of them;
// nativeBF16Kernel picks the one BF16 products use.
var bf16KernelsAvail = cpuBF16Kernels()

// NativeBF16 reports whether BF16 products run on bf16 dot-product
// instructions (AVX512_BF16) on this CPU; otherwise they run on the fp32
// kernel with bf16-rounded operands (same numbers, fp32 speed).
//
// Having the instructions is not enough: they must also be faster. On a
// Sapphire Rapids Xeon the VDPBF16PS kernel runs at half the fp32 AVX-512
// kernel's FLOP rate (89 against 177 GFLOP/s on one core: VDPBF16PS issues
// at a quarter of VFMADD231PS's rate), while a core that issues VDPBF16PS
// as fast as VFMADD231PS does twice the FLOP with it. So the first call of NativeBF16 or PackB(BF16, ...) times both
// kernels on a tile in L1 cache (a few milliseconds, best of several
// rounds) and BF16 takes the bf16 instructions only if their kernel is
// faster. The two differ by about 2× where they differ, so the choice is
// stable from run to run.
func NativeBF16() bool { return nativeBF16Kernel() != nil }

var nativeBF16 struct {
	once sync.Once
	bk   *bf16Kernel // the chosen bf16-pair kernel, or nil
}

// nativeBF16Kernel returns the bf16-pair kernel BF16 products run on, or
// nil when they run on the fp32 kernel.
func nativeBF16Kernel() *bf16Kernel {
	nativeBF16.once.Do(func() {
		if len(bf16KernelsAvail) == 0 {
			return
		}
		bk := bf16KernelsAvail[0]
		if bf16KernelRate(bk) > fp32KernelRate(kernel) {
			nativeBF16.bk = bk
		}
	})
	return nativeBF16.bk
}

// fp32KernelRate and bf16KernelRate time a kernel on k = 256 steps of a
// tile whose operands stay in L1 cache, in FLOP/s.
func fp32KernelRate(mk *microKernel) float64 {
	const k = 256
	a, b, c := make([]float32, mk.mr*k), make([]float32, mk.nr*k), make([]float32, mk.mr*mk.nr)
	for i := range a {
		a[i] = 1
	}
	for i := range b {
		b[i] = 1
	}
	return kernelRate(func() { mk.fn(k, &a[0], &b[0], &c[0], mk.nr, 1, 0) }, 2*float64(mk.mr*mk.nr*k))
}

func bf16KernelRate(bk *bf16Kernel) float64 {
	const kp = 128
	one := toBF16(1)
	a, b, c := make([]uint16, bk.mr*2*kp), make([]uint16, bk.nr*2*kp), make([]float32, bk.mr*bk.nr)
	for i := range a {
		a[i] = one
	}
	for i := range b {
		b[i] = one
	}
	return kernelRate(func() { bk.fn(kp, &a[0], &b[0], &c[0], bk.nr, 1, 0) }, 4*float64(bk.mr*bk.nr*kp))
}

// kernelRate is the best rate of 7 rounds of 64 calls of f, each call
// flop floating-point operations, after a warm-up round.
func kernelRate(f func(), flop float64) float64 {
	best := 0.0
	for round := range 8 {
		t0 := time.Now()
		for range 64 {
			f()
		}
		if el := time.Since(t0).Seconds(); round > 0 && el > 0 {
			best = max(best, 64*flop/el)
		}
	}
	return best
}

// PackedB is op(B): [k, n] packed once in the layout of the current CPU's
// microkernel, for repeated products A·op(B) with different A (weights at
// inference). Read-only after PackB: safe for concurrent GemmPacked calls.
//
// The layout is that of Sgemm's packed B, made once for the whole matrix:
// k is cut into kBlocks blocks of kb steps (the last holds the rest), and
// each block holds the nPad/nr panels of all n columns (n rounded up to
// the tile width nr, padding zero), each panel kb steps of nr values. For
// F32 the values are float32 and the k blocking is Sgemm's, so GemmPacked
// gives Sgemm's numbers bit for bit. For BF16 they are bf16: in the fp32
// kernel's layout when the CPU lacks bf16 instructions (GemmPacked widens
// them to float32 a column block at a time), else as k-pair words for the
// bf16 kernel, with kb even so that no pair straddles two blocks.
//
// Column blocks are fixed here too, by Sgemm's rule: at most nc columns,
// and a block's packed B within packBudget (counted in float32 elements;
// bf16 gets twice the elements on bf16 instructions, the same bytes). With B
// packed, a column block no longer sizes a buffer, except the BF16
// fallback's float32 scratch, whose size is exactly Sgemm's packB. What it
// still does is keep the part of B that the workers sweep together inside
// the shared L3 cache: they take the items (row block × panel group) of one
// column block before the next, so each block of B comes from memory about
// once rather than once per row block. Since nothing is overwritten, they
// need no barrier between blocks. The ViT shapes (k·n ≤ 3072·768) are a
// single column block.
type PackedB struct {
	dt   DType
	k, n int
	mk   *microKernel // fp32 kernel: F32, and BF16 without bf16 instructions
	bk   *bf16Kernel  // bf16-pair kernel, or nil

	nr          int // panel width
	nPad        int // n rounded up to nr
	kb, kBlocks int // depth of a k block, number of k blocks
	nb, nBlocks int // columns per column block (a multiple of nr), number

	f32 []float32 // F32 panels
	b16 []uint16  // BF16 panels
}

// PackB packs op(B) for GemmPacked in format dt: B is [k, n] with row
// stride ldb, or with transB [n, k] with row stride ldb. It rounds to bf16
// for BF16 (see toBF16) and panics if b is too short for the shape.
func PackB(dt DType, transB bool, k, n int, b []float32, ldb int) *PackedB {
	var bk *bf16Kernel
	if dt == BF16 {
		bk = nativeBF16Kernel()
	}
	return packBWith(kernel, bk, dt, transB, k, n, b, ldb)
}

// packBWith is PackB for the fp32 kernel mk and, for BF16, the bf16 kernel
// bk (nil: BF16 runs on mk).
func packBWith(mk *microKernel, bk *bf16Kernel, dt DType, transB bool, k, n int, b []float32, ldb int) *PackedB {
	dt.check()
	if k < 0 || n < 0 {
		panic(fmt.Sprintf("kernels: PackB negative size k=%d n=%d", k, n))
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMat("PackB", "B", b, br, bc, ldb)
	p := &PackedB{dt: dt, k: k, n: n}
	nr, kc, nc, mult, budget := mk.nr, mk.kc, mk.nc, 1, packBudget
	if dt == BF16 && bk != nil {
		p.bk = bk
		nr, kc, nc, mult, budget = bk.nr, bk.kc, bk.nc, 2, 2*packBudget
	} else {
		p.mk = mk
	}
	p.nr = nr
	if k == 0 || n == 0 {
		return p
	}
	p.nPad = roundUp(n, nr)
	p.kBlocks, p.kb = kBlocking(k, kc, mult)
	p.nb, p.nBlocks = colBlocking(n, nr, nc, p.kBlocks*p.kb, budget)
	nPanels := p.nPad / nr
	size := p.blockOff(p.kBlocks-1) + p.kbStored(p.kBlocks-1)*p.nPad
	if dt == F32 {
		p.f32 = make([]float32, size)
		for kbi := 0; kbi < p.kBlocks; kbi++ {
			pc := kbi * p.kb
			packB(p.f32[p.blockOff(kbi):], b, ldb, transB, pc, min(p.kb, k-pc), 0, n, nr, 0, nPanels, mk.asmPack)
		}
		return p
	}
	p.b16 = make([]uint16, size)
	tmp := make([]float32, p.kb*p.nPad)
	for kbi := 0; kbi < p.kBlocks; kbi++ {
		pc := kbi * p.kb
		kb := min(p.kb, k-pc)
		clear(tmp)
		packB(tmp, b, ldb, transB, pc, kb, 0, n, nr, 0, nPanels, false)
		dst := p.b16[p.blockOff(kbi):]
		if p.bk == nil {
			for i, v := range tmp[:kb*p.nPad] {
				dst[i] = toBF16(v)
			}
			continue
		}
		// Panel q of the block: word (pair s, column x) = values (2s, x)
		// and (2s+1, x) of the float panel.
		ks := p.kbStored(kbi)
		for q := 0; q < nPanels; q++ {
			src := tmp[q*nr*kb:][:nr*kb]
			d := dst[q*nr*ks:][:nr*ks]
			for s := 0; s < kb; s++ {
				for x, v := range src[s*nr : s*nr+nr] {
					d[((s>>1)*nr+x)*2+(s&1)] = toBF16(v)
				}
			}
		}
	}
	return p
}

// kbStored is the number of k steps block kbi stores per column: its depth,
// rounded up to even for k-pairs.
func (p *PackedB) kbStored(kbi int) int {
	kb := min(p.kb, p.k-kbi*p.kb)
	if p.bk != nil {
		kb = roundUp(kb, 2)
	}
	return kb
}

// blockOff is where k block kbi starts in f32 or b16 (every block but the
// last stores kb steps, kb even for k-pairs).
func (p *PackedB) blockOff(kbi int) int { return kbi * p.kb * p.nPad }

// K is the depth of op(B): its number of rows.
func (p *PackedB) K() int { return p.k }

// N is the number of columns of op(B) (and of the products' C).
func (p *PackedB) N() int { return p.n }

// DType is the number format the values are stored and multiplied in.
func (p *PackedB) DType() DType { return p.dt }

// Bytes is the memory p holds, in bytes: the packed values (4 per value for
// F32, 2 for BF16, with n padded to the kernel's tile width and, for the
// bf16 kernel, each k block to an even depth) and the header.
func (p *PackedB) Bytes() int {
	return int(unsafe.Sizeof(*p)) + 4*len(p.f32) + 2*len(p.b16)
}

// GemmPacked computes C = alpha·op(A)·P + beta·C (A: [m,k] row stride lda,
// not transposed; C: [m,n] stride ldc), spread over the worker pool like
// Sgemm (same concurrency rules: callable concurrently and from inside
// ParallelFor).
//
// k and n are P's. For F32 the result is Sgemm's, bit for bit. For BF16 the
// values of A are rounded to bf16 as they are packed (like P's, see toBF16)
// and the products are summed in float32. beta = 0 overwrites C without
// reading it. GemmPacked allocates nothing in steady state; it panics if a
// or c is too short for the shape.
//
// BF16 on the fp32 kernel (NativeBF16 false) widens P to float32 at every
// call, a column block at a time, before the products start: the same
// work as Sgemm's packing of B. Large products hardly notice; small ones
// (197 rows: ViT-Ti at batch 1) run at about Sgemm's speed rather than
// F32 GemmPacked's.
func GemmPacked(m int, alpha float32, a []float32, lda int, p *PackedB, beta float32, c []float32, ldc int) {
	gemmPacked(Parallelism(), m, alpha, a, lda, p, beta, c, ldc)
}

func gemmPacked(workers, m int, alpha float32, a []float32, lda int, p *PackedB, beta float32, c []float32, ldc int) {
	gemmPackedEpilogue(workers, m, alpha, a, lda, p, beta, c, ldc, Epilogue{})
}

// gemmPackedEpilogue is gemmPacked followed by the epilogue e.
func gemmPackedEpilogue(workers, m int, alpha float32, a []float32, lda int, p *PackedB, beta float32, c []float32, ldc int, e Epilogue) {
	if m < 0 {
		panic(fmt.Sprintf("kernels: GemmPacked negative size m=%d", m))
	}
	checkMat("GemmPacked", "A", a, m, p.k, lda)
	checkMat("GemmPacked", "C", c, m, p.n, ldc)
	if m == 0 || p.n == 0 {
		return
	}
	e.check("GemmPackedEpilogue", m, p.n, ldc)
	if p.k == 0 || alpha == 0 {
		scaleC(m, p.n, beta, c, ldc)
		applyAll(e, c, ldc, m, p.n)
		return
	}
	j := jobPool.Get().(*gemmJob)
	j.reset()
	j.epi, j.hasEpi = e, !e.empty()
	j.pb = p
	j.m, j.n, j.k = m, p.n, p.k
	j.alpha, j.beta = alpha, beta
	j.a, j.c = a, c
	j.lda, j.ldc = lda, ldc
	j.launch(workers)
}

// planPacked is plan for GemmPacked: the blocking comes from the PackedB.
func (j *gemmJob) planPacked(workers int) {
	p := j.pb
	j.kb, j.kBlocks, j.nb, j.nBlocks = p.kb, p.kBlocks, p.nb, p.nBlocks
	if bk := p.bk; bk != nil {
		j.bk = bk
		j.mr, j.nr = bk.mr, bk.nr
		j.planItems(workers, bk.mc)
		j.growWorkerBufs(workers, 0, min(bk.mc, roundUp(j.m, bk.mr))*j.kb)
		return
	}
	mk := p.mk
	j.mk = mk
	j.mr, j.nr = mk.mr, mk.nr
	j.expand = p.dt == BF16
	j.roundA = j.expand
	if !j.expand {
		// A rounded to bf16 must be packed; F32 may read it in place.
		j.directA, _ = chooseDirect(mk, false, false, true, j.m, j.n, j.k)
		j.pfA = j.directA && j.m*j.k >= pfAMin
	}
	j.planItems(workers, mk.mc)
	if j.expand {
		j.packB = growBuf(j.packB, j.kBlocks*j.kb*j.nb)
	}
	j.growWorkerBufs(workers, j.packAFloats(mk), 0)
}

// macroBF16 is macro for the bf16 kernel: a packed block of A as k-pairs
// (packABF16) times B panels [plo, phi) of a k block of kb steps, starting
// at column jc.
func (j *gemmJob) macroBF16(w int, ap, bp []uint16, ic, mb, jc, nb, kb, plo, phi int, beta float32) {
	bk := j.bk
	mr, nr := bk.mr, bk.nr
	kp := (kb + 1) / 2
	c, ldc, alpha := j.c, j.ldc, j.alpha
	for jp := plo; jp < phi; jp++ {
		col := jc + jp*nr
		nw := min(nr, jc+nb-col)
		bpan := &bp[jp*nr*2*kp]
		for ir := 0; ir < mb; ir += mr {
			row := ic + ir
			mh := min(mr, mb-ir)
			apan := &ap[ir*2*kp]
			if mh == mr && nw == nr {
				bk.fn(kp, apan, bpan, &c[row*ldc+col], ldc, alpha, beta)
				continue
			}
			t := j.tile[w]
			bk.fn(kp, apan, bpan, &t[0], nr, 1, 0)
			j.storeTile(t, nr, row, col, mh, nw, beta)
		}
	}
}

// packABF16 rounds A[i0:i0+mb, p0:p0+kb] to bf16 into dst as panels of mr
// rows of kp = ⌈kb/2⌉ k-pair words (2·kp values, the last one zero when kb
// is odd): panel q at dst[q·mr·2kp:], its row r at 2kp·r within. Rows past
// mb are left as they are (their results are discarded). asm converts runs
// of 32 with cvtRowsBF16.
func packABF16(dst []uint16, a []float32, lda, i0, mb, p0, kb, mr int, asm bool) {
	ks := 2 * ((kb + 1) / 2)
	n32 := 0
	if asm {
		n32 = kb / 32
	}
	for ir := 0; ir < mb; ir += mr {
		mh := min(mr, mb-ir)
		pan := dst[ir*ks : ir*ks+mr*ks]
		if n32 > 0 {
			cvtRowsBF16(&pan[0], ks, &a[(i0+ir)*lda+p0], lda, mh, n32)
		}
		for r := 0; r < mh; r++ {
			src := a[(i0+ir+r)*lda+p0:][32*n32 : kb]
			d := pan[r*ks:][32*n32 : ks]
			for x, v := range src {
				d[x] = toBF16(v)
			}
			if kb&1 != 0 {
				d[len(src)] = 0
			}
		}
	}
}

// toBF16 rounds x to bfloat16 (its top 16 bits) the way AVX512_BF16's
// VCVTNE2PS2BF16 does, so that every path stores the same values: round to
// nearest, ties to even; ±Inf stays ±Inf and values that round past the
// largest bf16 become ±Inf; a NaN stays a NaN (its top 16 bits with the
// quiet bit set); denormals (and zeros) become a zero of their sign.
// Since normal floats never round to a bf16 denormal, no bf16 value made
// here is denormal, which is also what VDPBF16PS assumes of its inputs
// (it treats denormals as zero).
func toBF16(x float32) uint16 {
	b := math.Float32bits(x)
	switch {
	case b&0x7f800000 == 0: // zero or denormal
		return uint16(b>>16) & 0x8000
	case b&0x7fffffff > 0x7f800000: // NaN
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// fromBF16 widens a bf16 value to float32 (exactly).
func fromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// roundBF16sGo is roundBF16s in plain Go.
func roundBF16sGo(x []float32) {
	for i, v := range x {
		x[i] = fromBF16(toBF16(v))
	}
}

// widenBF16Go is widenBF16 in plain Go.
func widenBF16Go(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = math.Float32frombits(uint32(h) << 16)
	}
}

func growBuf16(b []uint16, n int) []uint16 {
	if cap(b) < n {
		return make([]uint16, n)
	}
	return b[:n]
}
