package kernels

import "sync"

// Deep products: C = op(A)·op(B) with k much larger than m and n, such as
// the weight gradient dW = dyᵀ·x of a dense layer, where k is batch·tokens.
// Splitting the rows or columns of C among workers makes every worker
// stream the whole packed op(B) (k×n, megabytes) from the shared L3 cache
// for each block of rows. Instead, each worker takes a contiguous share of
// k and walks it one k block at a time: it packs that block of op(A) and
// op(B) (both then fit its L2 cache), multiplies them into its own partial
// C, and the partials are summed at the end. The result depends on the
// number of workers but not on scheduling: every share is summed in a
// fixed order. One worker walks all of k the same way, straight into C:
// 18-32% faster than packing op(B) whole on the small ViT's weight
// gradients (one core, alternating runs).

// deepKMin is the smallest k that deepSplit takes; deepKMaxMN bounds m·n
// (each worker holds an m×n partial).
const (
	deepKMin   = 2048
	deepKMaxMN = 1 << 20
)

// deepKSplit switches the deep-product path (benchmarks compare both).
var deepKSplit = true

// deepJob is one deep product in flight; jobs are pooled, with their
// partial buffers and the two closures ParallelFor runs, so that a steady
// stream of calls allocates nothing.
type deepJob struct {
	mk             *microKernel
	workers        int
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	parts          [][]float32 // per worker: m×n partial product
	spans          [maxWorkers][2]prefetchSpan
	share, reduce  func(lo, hi int)
}

var deepPool sync.Pool

func init() {
	// Set here, not in deepPool's declaration: the closures reach sgemm,
	// which reaches deepPool.
	deepPool.New = func() any {
		j := new(deepJob)
		j.share = j.runShares
		j.reduce = j.runReduce
		return j
	}
}

// useDeepK reports whether sgemm should take the deep-product path: split k
// among workers, or with one worker walk k one block at a time.
func useDeepK(workers, m, n, k int) bool {
	return deepKSplit && k >= deepKMin && m*n <= deepKMaxMN && k >= 8*(m+n)
}

// sgemmDeepK is sgemm for deep products (see useDeepK): workers share k,
// and a single worker walks all of it straight into C.
func sgemmDeepK(mk *microKernel, workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	j := deepPool.Get().(*deepJob)
	j.mk, j.workers = mk, min(workers, maxWorkers)
	j.transA, j.transB = transA, transB
	j.m, j.n, j.k = m, n, k
	j.alpha, j.beta = alpha, beta
	j.a, j.b, j.c = a, b, c
	j.lda, j.ldb, j.ldc = lda, ldb, ldc
	if j.workers == 1 {
		// One worker: its share is all of k, summed into C directly.
		j.runShare(0, j.c, j.ldc, j.alpha, j.beta)
		j.a, j.b, j.c = nil, nil, nil
		deepPool.Put(j)
		return
	}
	for len(j.parts) < j.workers {
		j.parts = append(j.parts, nil)
	}
	ParallelFor(j.workers, 1, j.share)
	ParallelFor(m, max(1, 16384/n), j.reduce)
	j.a, j.b, j.c = nil, nil, nil
	deepPool.Put(j)
}

// runShares computes the partial products of shares [lo, hi) of k: share w
// is a balanced run of whole k blocks, multiplied one block at a time.
func (j *deepJob) runShares(lo, hi int) {
	for w := lo; w < hi; w++ {
		j.parts[w] = growBuf(j.parts[w], j.m*j.n)
		j.runShare(w, j.parts[w], j.n, 1, 0)
	}
}

// runShare sets dst (row stride ldd) to alpha·(worker w's partial product)
// + beta·dst, one k block at a time; a worker with an empty share gives
// beta·dst.
func (j *deepJob) runShare(w int, dst []float32, ldd int, alpha, beta float32) {
	kc := j.blockDepth()
	blocks := ceilDiv(j.k, kc)
	k0, k1 := blocks*w/j.workers*kc, min(j.k, blocks*(w+1)/j.workers*kc)
	if k0 >= k1 {
		scaleC(j.m, j.n, beta, dst, ldd)
		return
	}
	for p0 := k0; p0 < k1; p0 += kc {
		kk := min(kc, k1-p0)
		var a, b []float32
		if j.transA {
			a = j.a[p0*j.lda:]
		} else {
			a = j.a[p0:]
		}
		if j.transB {
			b = j.b[p0:]
		} else {
			b = j.b[p0*j.ldb:]
		}
		sgemmPrefetch(j.mk, 1, j.transA, j.transB, j.m, j.n, kk, alpha, a, j.lda, b, j.ldb, beta, dst, ldd, j.nextBlock(w, p0+kk, k1))
		beta = 1
	}
}

// blockDepth is the depth of the k blocks the shares walk: about the
// kernel's kc, a multiple of 8 (the packing copies' unit), with the number
// of blocks a multiple of the workers so that the shares get the same work
// (k = 6400 on two workers: 26 blocks of 248, not 25 of 256 split 12 and
// 13; 1-2% faster on the small ViT's weight gradients).
func (j *deepJob) blockDepth() int {
	blocks := roundUp(ceilDiv(j.k, j.mk.kc), j.workers)
	return roundUp(ceilDiv(j.k, blocks), 8)
}

// nextBlock lists, for deepPrefetch, the rows of worker w's next k block
// [p0, min(p0+kc, k1)) of op(A) and op(B) that are rows of A and B (k
// along rows: transposed A, plain B): the packing of the next block then
// finds them in cache.
func (j *deepJob) nextBlock(w, p0, k1 int) []prefetchSpan {
	if !deepPrefetch || p0 >= k1 {
		return nil
	}
	kk := min(j.blockDepth(), k1-p0)
	spans := j.spans[w][:0]
	if j.transA {
		spans = append(spans, prefetchSpan{a: j.a[p0*j.lda:], stride: j.lda, rows: kk, n: j.m})
	}
	if !j.transB {
		spans = append(spans, prefetchSpan{a: j.b[p0*j.ldb:], stride: j.ldb, rows: kk, n: j.n})
	}
	return spans
}

// deepPrefetch switches nextBlock (benchmarks compare both).
var deepPrefetch = true

// runReduce sets rows [lo, hi) of C to alpha·Σ partials + beta·C, adding
// the partials in worker order.
func (j *deepJob) runReduce(lo, hi int) {
	n := j.n
	for i := lo; i < hi; i++ {
		crow := j.c[i*j.ldc : i*j.ldc+n]
		for x := range crow {
			s := j.parts[0][i*n+x]
			for _, p := range j.parts[1:j.workers] {
				s += p[i*n+x]
			}
			if j.beta == 0 {
				crow[x] = j.alpha * s
			} else {
				crow[x] = j.alpha*s + j.beta*crow[x]
			}
		}
	}
}
