package kernels

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// microKernel describes one register-tile kernel and the cache blocking that
// suits it.
//
// fn computes an mr×nr tile C = alpha·Ap·Bp + beta·C, where Ap holds k steps
// of mr packed A values, Bp holds k steps of nr packed B values and C has
// row stride ldc floats. beta = ±0 does not read C.
type microKernel struct {
	name   string
	mr, nr int // register tile: rows of A, columns of B
	kc     int // depth of a k block (a kc×nr B micro-panel stays in L1)
	mc     int // most rows of a packed A block (mc×kc stays in L2)
	nc     int // most columns of C per column block (op(B) is packed whole, k×nc)
	fn     func(k int, a, b, c *float32, ldc int, alpha, beta float32)

	// strided is fn on operands read in place: step p of row r of A at
	// a[r·aRow + p·aStep], step p of the nr columns of B at
	// b[p·bStep:][:nr] (strides in floats). Packed panels are aRow 1,
	// aStep mr, bStep nr, and give fn's bits. nil: the kernel has no such
	// variant and its products always pack both operands.
	strided func(k int, a *float32, aRow, aStep int, b *float32, bStep int, c *float32, ldc int, alpha, beta float32)

	// asmPack packs full panels with packT8 and packCopy (AVX2). Its
	// kernels have mr in {6, 12} and nr in {16, 32}.
	asmPack bool
}

// kernelsAvail lists the microkernels this CPU runs, fastest first; kernel
// is the one Sgemm and SgemmSerial use. Tests run every one of them.
var (
	kernelsAvail = cpuKernels()
	kernel       = kernelsAvail[0]
)

// parallelMinFlop is the smallest product (2·m·n·k) Sgemm spreads over
// workers; below it waking a helper costs more than it saves.
var parallelMinFlop = 1 << 21

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices,
// spreading the work over the worker pool.
//
// op(A) is [m, k]: A is [m, k] with row stride lda, or with transA it is
// [k, m] with row stride lda. op(B) is [k, n]: B is [k, n] with row stride
// ldb, or with transB it is [n, k] with row stride ldb. C is [m, n] with row
// stride ldc. beta = 0 overwrites C without reading it (NaNs in C vanish).
//
// Sgemm allocates nothing in steady state. It runs on the calling goroutine
// and on whichever helper goroutines are idle (up to Workers in all), so it
// may be called concurrently or from inside ParallelFor: a call that finds
// the helpers busy uses fewer workers rather than waiting for them. Small
// products (2·m·n·k below about 2 MFLOP) run on the caller alone.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(kernel, Parallelism(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmSerial is Sgemm on the calling goroutine alone, for callers that
// already run many small products in parallel (attention heads). It
// allocates nothing in steady state.
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(kernel, 1, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemmJob is one Sgemm or GemmPacked call in flight, with the packing
// buffers it needs. Jobs are pooled so that steady-state calls allocate
// nothing.
//
// Workers share the work by claiming pieces with compare-and-swap, so a
// worker that starts late or loses its core for a while delays the others
// only at the two waits per B block. For each block of columns jc of C
// (one block unless k·n is large):
//
//  1. the workers pack all of op(B)[:, jc block] (every k block, panel by
//     panel) into the shared packB, and wait until it is complete;
//  2. they claim items, each a block of rows of C times a group of B
//     panels; an item runs the k blocks in turn, packing its rows of A for
//     each into the worker's own packA and calling the microkernel per tile;
//  3. before the next column block reuses packB, they wait until every item
//     is done.
//
// Where chooseDirect finds it faster, the kernel reads operands in place
// (macroDirect, with the strided variant of the kernel): with directA step
// 2 packs no A, and with directB phase 1 and both waits go, as for a
// PackedB.
//
// GemmPacked reads op(B) from a PackedB instead. When its panels are already
// in the kernel's layout (F32, or BF16 on bf16 instructions) phase 1 and
// both waits go: the workers claim the items of one column block after the
// other with no barrier, nothing being overwritten. BF16 on the fp32
// kernel keeps phase 1, which widens the bf16 panels of the column block
// to float32 in packB, and rounds each packed block of A to bf16.
type gemmJob struct {
	mk             *microKernel // fp32 kernel, nil when bk runs
	bk             *bf16Kernel  // bf16-pair kernel (GemmPacked only), or nil
	pb             *PackedB     // GemmPacked's op(B); nil for Sgemm
	expand         bool         // phase 1 widens pb's bf16 panels into packB
	roundA         bool         // round each packed A block to bf16
	directA        bool         // the kernel reads op(A) in place (no packA)
	pfA            bool         // directA prefetches A ahead of the first pass
	directB        bool         // the kernel reads op(B) in place (no phase 1)
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int

	epi          Epilogue // applied to each item's block of C when hasEpi
	hasEpi       bool
	pf           []prefetchSpan // rows to prefetch between tiles (single worker only)
	pfRow, pfPer int            // rows of pf[0] done; rows per tile

	helpers [maxWorkers - 1]*helper // reserved for this call
	workers int
	pending atomicInt // helper parts not yet finished

	mr, nr      int // register tile of the kernel that runs
	kb, kBlocks int // depth of a k block (balanced), number of k blocks
	nb, nBlocks int // columns of a column block (multiple of nr), count
	rowItems    int // row blocks per column block (each ≤ mc rows)
	colGroups   int // panel groups per column block

	packNext, packDone atomic.Int32 // pack units claimed and finished, all blocks
	itemNext, itemDone atomic.Int32 // items claimed and finished, all blocks

	packB   []float32   // kBlocks × (kb×nb) packed op(B), shared
	packA   [][]float32 // per worker: mc×kb block of A
	packA16 [][]uint16  // per worker: mc×kb block of A as bf16 pairs (bk)
	tile    [][]float32 // per worker: mr×nr scratch for edge tiles
}

var jobPool = sync.Pool{New: func() any { return new(gemmJob) }}

// packBudget bounds the packed op(B) of one column block, in floats: it
// should stay well inside the shared L3 cache.
const packBudget = 3 << 20

func sgemm(mk *microKernel, workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmFull(mk, workers, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil, Epilogue{})
}

// sgemmEpilogue is sgemm followed by the epilogue e.
func sgemmEpilogue(mk *microKernel, workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, e Epilogue) {
	sgemmFull(mk, workers, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil, e)
}

// sgemmPrefetch is sgemm that, with pf not nil, also asks for the rows of
// pf a few at a time between the tiles of its packed blocks, so that they
// arrive in cache while it computes (a deep product's next k block).
func sgemmPrefetch(mk *microKernel, workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, pf []prefetchSpan) {
	sgemmFull(mk, workers, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, pf, Epilogue{})
}

// sgemmFull is sgemm with both options: the rows pf to prefetch and the
// epilogue e. The epilogue runs on each item's block of C as the item
// finishes, except after a degenerate or deep product, where one pass over
// C follows.
func sgemmFull(mk *microKernel, workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, pf []prefetchSpan, e Epilogue) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	e.check("SgemmEpilogue", m, n, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		applyAll(e, c, ldc, m, n)
		return
	}
	if useDeepK(workers, m, n, k) {
		sgemmDeepK(mk, workers, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		applyAll(e, c, ldc, m, n)
		return
	}
	j := jobPool.Get().(*gemmJob)
	j.reset()
	j.mk = mk
	j.transA, j.transB = transA, transB
	j.m, j.n, j.k = m, n, k
	j.alpha, j.beta = alpha, beta
	j.a, j.b, j.c = a, b, c
	j.lda, j.ldb, j.ldc = lda, ldb, ldc
	j.pf, j.pfRow = pf, 0
	j.epi, j.hasEpi = e, !e.empty()
	j.launch(workers)
}

// prefetchSpan is a block of rows to bring into cache: the first n floats
// of each of rows rows of a, row stride stride floats.
type prefetchSpan struct {
	a               []float32
	stride, rows, n int
}

// prefetchStep asks for the next rows of j.pf (one caller at a time: pf is
// only set on single-worker jobs).
func (j *gemmJob) prefetchStep() {
	left := j.pfPer
	for left > 0 && len(j.pf) > 0 {
		s := &j.pf[0]
		r := min(left, s.rows-j.pfRow)
		if r > 0 {
			prefetchRows(&s.a[j.pfRow*s.stride], s.stride, r, s.n)
		}
		left -= r
		j.pfRow += r
		if j.pfRow >= s.rows {
			j.pf, j.pfRow = j.pf[1:], 0
		}
	}
}

// launch reserves helpers (up to workers in all, the caller included, when
// the product is big enough), plans the job, runs it and returns it to the
// pool.
func (j *gemmJob) launch(workers int) {
	if workers > 1 && 2*float64(j.m)*float64(j.n)*float64(j.k) >= float64(parallelMinFlop) {
		workers = 1 + reserveHelpers(j.helpers[:], min(workers, maxWorkers)-1)
	} else {
		workers = 1
	}
	if j.pb != nil {
		j.planPacked(workers)
	} else {
		j.plan(workers)
	}
	if workers > 1 {
		j.pf = nil
	}
	if len(j.pf) > 0 {
		rows := 0
		for _, s := range j.pf {
			rows += s.rows
		}
		tiles := ceilDiv(j.m, j.mr) * ceilDiv(j.n, j.nr) * j.kBlocks
		j.pfPer = ceilDiv(rows, max(1, tiles))
	}
	j.pending.Store(int32(workers - 1))
	for w := 1; w < workers; w++ {
		j.helpers[w-1].ch <- helperTask{job: j, w: w, done: &j.pending}
		j.helpers[w-1] = nil
	}
	j.run(0)
	if workers > 1 {
		j.pending.waitZero()
	}
	j.a, j.b, j.c, j.pb, j.pf = nil, nil, nil, nil, nil
	j.epi, j.hasEpi = Epilogue{}, false
	jobPool.Put(j)
}

// reset clears j for a new call, keeping its buffers.
func (j *gemmJob) reset() {
	j.mk, j.bk, j.pb = nil, nil, nil
	j.epi, j.hasEpi = Epilogue{}, false
	j.expand, j.roundA = false, false
	j.directA, j.directB, j.pfA = false, false, false
	j.transA, j.transB = false, false
	j.packNext.Store(0)
	j.packDone.Store(0)
	j.itemNext.Store(0)
	j.itemDone.Store(0)
}

// plan picks the block sizes and the items and sizes the buffers.
func (j *gemmJob) plan(workers int) {
	mk := j.mk
	j.mr, j.nr = mk.mr, mk.nr
	j.directA, j.directB = chooseDirect(mk, j.transA, j.transB, false, j.m, j.n, j.k)
	j.pfA = j.directA && !j.transA && j.m*j.k >= pfAMin
	j.kBlocks, j.kb = kBlocking(j.k, mk.kc, 1)
	kTotal := j.kBlocks * j.kb
	j.nb, j.nBlocks = colBlocking(j.n, mk.nr, mk.nc, kTotal, packBudget)
	j.planItems(workers, mk.mc)
	if !j.directB {
		j.packB = growBuf(j.packB, kTotal*j.nb)
	}
	j.growWorkerBufs(workers, j.packAFloats(mk), 0)
}

// packAFloats is the size of a worker's packed A block: none when A is
// read in place.
func (j *gemmJob) packAFloats(mk *microKernel) int {
	if j.directA {
		return 0
	}
	return min(mk.mc, roundUp(j.m, mk.mr))*j.kb + packSlack
}

// kBlocking splits k steps into kBlocks balanced blocks of kb ≤ kc steps
// (k = 300 packs as 2×150, not 256+44), kb rounded up to a multiple of
// mult; the last block holds the rest, k - (kBlocks-1)·kb steps.
func kBlocking(k, kc, mult int) (kBlocks, kb int) {
	kb = roundUp(ceilDiv(k, ceilDiv(k, kc)), mult)
	return ceilDiv(k, kb), kb
}

// colBlocking splits n columns into nBlocks blocks of nb columns (a
// multiple of nr), at most nc each and with kTotal·nb (the packed block, in
// elements) within budget.
func colBlocking(n, nr, nc, kTotal, budget int) (nb, nBlocks int) {
	nBlocks = max(ceilDiv(n, nc), ceilDiv(kTotal*roundUp(n, nr), budget))
	nb = roundUp(ceilDiv(n, nBlocks), nr)
	return nb, ceilDiv(n, nb)
}

// deepK is the number of k blocks from which planItems gives each worker
// one block of rows.
var deepK = 8

// planItems splits each column block into items for workers: rows in
// blocks of at most mc; with several workers at least 4 items per worker,
// splitting the columns too when rows run out.
func (j *gemmJob) planItems(workers, mc int) {
	mr, nr := j.mr, j.nr
	j.workers = workers
	mPanels, nbPanels := ceilDiv(j.m, mr), j.nb/nr
	j.rowItems = ceilDiv(mPanels, mc/mr)
	j.colGroups = 1
	if workers > 1 && j.kBlocks >= deepK {
		// A deep product (a weight gradient: k = batch·tokens) reads all
		// of packed op(B) once per row item, from L3: one row item per
		// worker reads it least.
		j.rowItems = max(j.rowItems, min(mPanels, workers))
		return
	}
	if want := 4 * workers; workers > 1 && j.rowItems < want {
		j.rowItems = min(mPanels, want)
		j.colGroups = min(nbPanels, ceilDiv(want, j.rowItems))
	}
}

// growWorkerBufs sizes each worker's A block (aFloats floats, a16 bf16
// values) and edge-tile scratch.
func (j *gemmJob) growWorkerBufs(workers, aFloats, a16 int) {
	for len(j.packA) < workers {
		j.packA = append(j.packA, nil)
		j.packA16 = append(j.packA16, nil)
		j.tile = append(j.tile, nil)
	}
	for i := 0; i < workers; i++ {
		if aFloats > 0 {
			j.packA[i] = growBuf(j.packA[i], aFloats)
		}
		if a16 > 0 {
			j.packA16[i] = growBuf16(j.packA16[i], a16)
		}
		j.tile[i] = growBuf(j.tile[i], j.mr*j.nr)
	}
}

// claim takes the next index below end from ctr, or returns false when all
// are taken.
func claim(ctr *atomic.Int32, end int) (int, bool) {
	for {
		u := ctr.Load()
		if int(u) >= end {
			return 0, false
		}
		if ctr.CompareAndSwap(u, u+1) {
			return int(u), true
		}
	}
}

// waitFor spins until ctr reaches end, yielding now and then.
func waitFor(ctr *atomic.Int32, end int) {
	for spins := 0; int(ctr.Load()) < end; spins++ {
		if spins > 200 {
			spinYield()
		}
	}
}

// run is worker w's part of the job: whatever pieces it can claim.
func (j *gemmJob) run(w int) {
	mr, nr := j.mr, j.nr
	mPanels := ceilDiv(j.m, mr)
	pb := j.pb
	copyB := (pb == nil && !j.directB) || j.expand // phase 1 fills packB
	packEnd, itemEnd := 0, 0
	for blk := 0; blk < j.nBlocks; blk++ {
		jc := blk * j.nb
		nb := min(j.nb, j.n-jc)
		nPanels := ceilDiv(nb, nr)

		// 1. Pack op(B)[:, jc:jc+nb] (or widen it from bf16), one (k
		// block, panel) unit at a time.
		if copyB {
			packStart := packEnd
			packEnd += j.kBlocks * nPanels
			for {
				u, ok := claim(&j.packNext, packEnd)
				if !ok {
					break
				}
				u -= packStart
				kbi, q := u/nPanels, u%nPanels
				pc := kbi * j.kb
				kb := min(j.kb, j.k-pc)
				dst := j.packB[kbi*j.kb*j.nb:]
				if pb == nil {
					packB(dst, j.b, j.ldb, j.transB, pc, kb, jc, nb, nr, q, q+1, j.mk.asmPack)
				} else {
					src := pb.b16[pb.blockOff(kbi)+(jc+q*nr)*kb:][:nr*kb]
					widenBF16(dst[q*nr*kb:][:nr*kb], src)
				}
				j.packDone.Add(1)
			}
			waitFor(&j.packDone, packEnd)
		}

		// 2. Items: a block of rows times a group of panels, all of k.
		itemStart := itemEnd
		itemEnd += j.rowItems * j.colGroups
		for {
			it, ok := claim(&j.itemNext, itemEnd)
			if !ok {
				break
			}
			it -= itemStart
			ri, g := it/j.colGroups, it%j.colGroups
			r0 := mPanels * ri / j.rowItems * mr
			r1 := min(j.m, mPanels*(ri+1)/j.rowItems*mr)
			p0, p1 := nPanels*g/j.colGroups, nPanels*(g+1)/j.colGroups
			for kbi := 0; kbi < j.kBlocks; kbi++ {
				pc := kbi * j.kb
				kb := min(j.kb, j.k-pc)
				beta := j.beta
				if pc > 0 {
					beta = 1
				}
				if j.bk != nil {
					ap := j.packA16[w]
					packABF16(ap, j.a, j.lda, r0, r1-r0, pc, kb, mr, j.bk.asmCvt)
					bp := pb.b16[pb.blockOff(kbi)+jc*roundUp(kb, 2):]
					j.macroBF16(w, ap, bp, r0, r1-r0, jc, nb, kb, p0, p1, beta)
					continue
				}
				var ap, bp []float32 // nil: read in place
				if !j.directA {
					ap = j.packA[w]
					packA(ap, j.a, j.lda, j.transA, r0, r1-r0, pc, kb, mr, j.mk.asmPack)
					if j.roundA {
						roundBF16s(ap[:roundUp(r1-r0, mr)*kb])
					}
				}
				switch {
				case copyB:
					bp = j.packB[kbi*j.kb*j.nb:]
				case pb != nil:
					bp = pb.f32[pb.blockOff(kbi)+jc*kb:]
				}
				if j.directA || j.directB {
					j.macroDirect(w, ap, bp, r0, r1-r0, jc, nb, pc, kb, p0, p1, beta)
				} else {
					j.macro(w, ap, bp, r0, r1-r0, jc, nb, kb, p0, p1, beta)
				}
			}
			if j.hasEpi {
				j.epi.apply(j.c, j.ldc, r0, r1, jc+p0*nr, min(jc+p1*nr, jc+nb))
			}
			j.itemDone.Add(1)
		}
		// 3. packB is reused by the next block only when all items are done.
		if copyB && blk+1 < j.nBlocks {
			waitFor(&j.itemDone, itemEnd)
		}
	}
}

// macro multiplies a packed mb×kb block of A by B panels [plo, phi) of a
// packed kb×nb block of B into C[ic:ic+mb, jc:jc+nb].
func (j *gemmJob) macro(w int, ap, bp []float32, ic, mb, jc, nb, kb, plo, phi int, beta float32) {
	mk := j.mk
	mr, nr := mk.mr, mk.nr
	c, ldc, alpha := j.c, j.ldc, j.alpha
	for jp := plo; jp < phi; jp++ {
		col := jc + jp*nr
		nw := min(nr, jc+nb-col)
		bpan := &bp[jp*nr*kb]
		for ir := 0; ir < mb; ir += mr {
			row := ic + ir
			mh := min(mr, mb-ir)
			apan := &ap[ir*kb]
			if j.pf != nil {
				j.prefetchStep()
			}
			if mh == mr && nw == nr {
				mk.fn(kb, apan, bpan, &c[row*ldc+col], ldc, alpha, beta)
				continue
			}
			t := j.tile[w]
			mk.fn(kb, apan, bpan, &t[0], nr, 1, 0)
			j.storeTile(t, nr, row, col, mh, nw, beta)
		}
	}
}

// macroDirect is macro with either operand read in place by the strided
// kernel: ap nil reads op(A)[ic:ic+mb, pc:pc+kb] from A, bp nil reads
// op(B)[pc:pc+kb, jc:jc+nb] from B; a non-nil ap or bp is a packed block
// as macro takes it. In place, an edge tile (rows past m or columns past n)
// is computed as the full tile ending at row m or column n, which exists
// because directA needs m ≥ mr and directB n ≥ nr, and only its new part
// is stored. Each C value is the same chain of operations either way, so
// the result is macro's, bit for bit.
func (j *gemmJob) macroDirect(w int, ap, bp []float32, ic, mb, jc, nb, pc, kb, plo, phi int, beta float32) {
	mk := j.mk
	mr, nr := mk.mr, mk.nr
	a, lda, b, ldb := j.a, j.lda, j.b, j.ldb
	c, ldc, alpha := j.c, j.ldc, j.alpha
	aRow, aStep, bStep := 1, mr, nr
	if ap == nil {
		aRow, aStep = lda, 1
		if j.transA {
			aRow, aStep = 1, lda
		}
	}
	if bp == nil {
		bStep = ldb
	}
	for jp := plo; jp < phi; jp++ {
		col := jc + jp*nr
		nw := min(nr, jc+nb-col)
		bcol := col // the first column the kernel computes
		var bpan *float32
		if bp == nil {
			bcol = min(col, j.n-nr)
			bpan = &b[pc*ldb+bcol]
		} else {
			bpan = &bp[jp*nr*kb]
		}
		for ir := 0; ir < mb; ir += mr {
			row := ic + ir
			mh := min(mr, mb-ir)
			if j.pfA && jp == plo {
				// The first pass over the block brings A from memory: ask
				// for the next panel (or the first of the next k block)
				// while this tile computes.
				if nxt := row + mr; nxt < ic+mb {
					prefetchRows(&a[nxt*lda+pc], lda, min(mr, ic+mb-nxt), kb)
				} else if pc+kb < j.k {
					prefetchRows(&a[ic*lda+pc+kb], lda, min(mr, mb), min(kb, j.k-pc-kb))
				}
			}
			arow := row // the first row the kernel computes
			var apan *float32
			switch {
			case ap != nil:
				apan = &ap[ir*kb]
			case j.transA:
				arow = min(row, j.m-mr)
				apan = &a[pc*lda+arow]
			default:
				arow = min(row, j.m-mr)
				apan = &a[arow*lda+pc]
			}
			if mh == mr && nw == nr {
				mk.strided(kb, apan, aRow, aStep, bpan, bStep, &c[row*ldc+col], ldc, alpha, beta)
				continue
			}
			t := j.tile[w]
			mk.strided(kb, apan, aRow, aStep, bpan, bStep, &t[0], nr, 1, 0)
			j.storeTile(t[(row-arow)*nr+col-bcol:], nr, row, col, mh, nw, beta)
		}
	}
}

// storeTile sets C[row:row+mh, col:col+nw] = alpha·T + beta·C from an edge
// tile T computed with alpha 1 and beta 0 (row stride nr).
func (j *gemmJob) storeTile(t []float32, nr, row, col, mh, nw int, beta float32) {
	c, ldc, alpha := j.c, j.ldc, j.alpha
	for r := 0; r < mh; r++ {
		crow := c[(row+r)*ldc+col:][:nw]
		trow := t[r*nr:][:nw]
		if beta == 0 {
			for x, v := range trow {
				crow[x] = alpha * v
			}
		} else {
			for x, v := range trow {
				crow[x] = alpha*v + beta*crow[x]
			}
		}
	}
}

// pfAMin is the least size of row-major A, in floats, that directA
// prefetches: smaller ones (the attention heads) are in cache already.
const pfAMin = 1 << 16

// directMode selects where products read their operands in place.
type directMode int

const (
	directAuto   directMode = iota // where it was measured faster
	directNever                    // always pack (the path before in-place reads)
	directAlways                   // wherever the kernel and shape allow
)

// direct is the in-place policy of every product; benchmarks and tests
// switch it.
var direct = directAuto

func (d directMode) String() string {
	switch d {
	case directAuto:
		return "auto"
	case directNever:
		return "never"
	case directAlways:
		return "always"
	}
	return fmt.Sprintf("directMode(%d)", int(d))
}

// chooseDirect decides whether a product on mk reads op(A) and op(B) in
// place rather than packing them (packedB: op(B) comes packed already).
//
// In place, A needs a kernel with a strided variant and m ≥ mr (an edge
// tile then overlaps the tile before it), B also n ≥ nr and no transpose.
// Reading in place saves the copy but not the cache misses, and packed
// panels are denser in cache. On a Zen 4 core (AVX2 kernel; 1 MiB L2, 32
// KiB L1) the trade came out as follows, products timed both ways:
//
//   - Row-major A pays where its packing is amortized over few columns:
//     with n = 128 (the small ViT's proj, fc2, and input gradients) 3-14%
//     faster, with the next panel of A prefetched (see macroDirect); with
//     n = 384..3072 within ±3% either way, so n ≤ 256 reads in place.
//   - Transposed A (aStep = lda) reads one cache line per k step, and with
//     lda a multiple of 128 floats those lines fall into a few L1 sets
//     that the B panel shares: the weight gradients dW = dyᵀ·x (k = 6400)
//     ran 4-20% slower in place, 192×192×197 3% slower. It pays only for
//     narrow products with short k, the attention heads' backward (50×32×50
//     22% faster, 197×64×197 6%): n ≤ 64 and k ≤ 512.
//   - B in place re-reads its strided panel from L2 for every panel of A:
//     8-16% slower on the training shapes, 3-10% faster on the attention
//     heads (m = 50, 197). It pays when m ≤ 256 and B is at most 16384
//     values (64 KiB).
//
// Every choice gives the same bits (see macroDirect).
func chooseDirect(mk *microKernel, transA, transB, packedB bool, m, n, k int) (a, b bool) {
	if mk.strided == nil || direct == directNever {
		return false, false
	}
	a = m >= mk.mr
	b = !transB && !packedB && n >= mk.nr
	if direct == directAlways {
		return a, b
	}
	if transA {
		a = a && n <= 64 && k <= 512
	} else {
		a = a && n <= 256
	}
	b = b && m <= 256 && n*k <= 1<<14
	return a, b
}

// packSlack is the spare room packA needs past its panels: the 6-row
// transposing copy writes two floats past the panel it fills.
const packSlack = 8

// packA copies op(A)[i0:i0+mb, p0:p0+kb] into dst as micro-panels of mr
// rows: panel q holds, for each p, the mr values op(A)[i0+q·mr+r, p0+p].
// Rows past mb are left as they are (their results are discarded). asm
// selects the assembly copies for full panels.
func packA(dst, a []float32, lda int, transA bool, i0, mb, p0, kb, mr int, asm bool) {
	for ir := 0; ir < mb; ir += mr {
		mh := min(mr, mb-ir)
		pan := dst[ir*kb : ir*kb+mr*kb+packSlack]
		i := i0 + ir
		if transA {
			// op(A)[i, p] = A[p, i]: each p is a contiguous run of A.
			if asm && mh == mr {
				packCopy(&pan[0], &a[p0*lda+i], lda, kb, mr)
				continue
			}
			for p := 0; p < kb; p++ {
				copy(pan[p*mr:p*mr+mh], a[(p0+p)*lda+i:][:mh])
			}
			continue
		}
		p8 := 0
		if asm && mh == mr && kb >= 8 {
			p8 = kb &^ 7
			var rows [8]*float32
			row := func(r int) *float32 { return &a[(i+r)*lda+p0] }
			if mr == 12 {
				for r := range 8 {
					rows[r] = row(r)
				}
				packT8(&pan[0], mr, &rows, p8)
				for r := range 8 {
					rows[r] = row(r + 4)
				}
				packT8(&pan[4], mr, &rows, p8)
			} else {
				// Rows 4 and 5 again as lanes 6 and 7: each p's two
				// extra floats are overwritten by the next p.
				for r := range 8 {
					if r < 6 {
						rows[r] = row(r)
					} else {
						rows[r] = row(r - 2)
					}
				}
				packT8(&pan[0], mr, &rows, p8)
			}
		}
		for r := 0; r < mh && p8 < kb; r++ {
			src := a[(i+r)*lda+p0:][p8:kb]
			d := pan[p8*mr+r:]
			for p, v := range src {
				d[p*mr] = v
			}
		}
	}
}

// packB copies panels [plo, phi) of op(B)[p0:p0+kb, j0:j0+nb] into dst:
// panel q holds, for each p, the nr values op(B)[p0+p, j0+q·nr+x].
// Columns past nb are left as they are (their results are discarded). asm
// selects the assembly copies for full panels.
func packB(dst, b []float32, ldb int, transB bool, p0, kb, j0, nb, nr, plo, phi int, asm bool) {
	for q := plo; q < phi; q++ {
		jq := q * nr
		nw := min(nr, nb-jq)
		pan := dst[jq*kb : jq*kb+nr*kb]
		j := j0 + jq
		if !transB {
			if asm && nw == nr {
				packCopy(&pan[0], &b[p0*ldb+j], ldb, kb, nr)
				continue
			}
			for p := 0; p < kb; p++ {
				copy(pan[p*nr:p*nr+nw], b[(p0+p)*ldb+j:][:nw])
			}
			continue
		}
		// op(B)[p, j] = B[j, p]: each column j is a contiguous run of B.
		p8 := 0
		if asm && nw == nr && kb >= 8 {
			p8 = kb &^ 7
			var rows [8]*float32
			for g := 0; g < nr; g += 8 {
				for x := range 8 {
					rows[x] = &b[(j+g+x)*ldb+p0]
				}
				packT8(&pan[g], nr, &rows, p8)
			}
		}
		for x := 0; x < nw && p8 < kb; x++ {
			src := b[(j+x)*ldb+p0:][p8:kb]
			d := pan[p8*nr+x:]
			for p, v := range src {
				d[p*nr] = v
			}
		}
	}
}

// scaleC sets C = beta·C (C = 0 when beta is 0).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc:][:n]
		if beta == 0 {
			clear(row)
			continue
		}
		for x := range row {
			row[x] *= beta
		}
	}
}

// checkGemm panics unless the slices hold the matrices the call describes;
// the assembly kernels rely on it.
func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels: Sgemm negative size m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMat("Sgemm", "A", a, ar, ac, lda)
	checkMat("Sgemm", "B", b, br, bc, ldb)
	checkMat("Sgemm", "C", c, m, n, ldc)
}

// checkMat panics unless x holds a rows×cols matrix with row stride ld;
// fn and name label the message.
func checkMat(fn, name string, x []float32, rows, cols, ld int) {
	if rows == 0 || cols == 0 {
		return
	}
	if ld < cols {
		panic(fmt.Sprintf("kernels: %s %s row stride %d < %d columns", fn, name, ld, cols))
	}
	if need := (rows-1)*ld + cols; len(x) < need {
		panic(fmt.Sprintf("kernels: %s %s has %d elements, needs %d", fn, name, len(x), need))
	}
}

func growBuf(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
func roundUp(a, b int) int { return ceilDiv(a, b) * b }
