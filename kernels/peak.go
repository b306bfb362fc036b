package kernels

import (
	"sync"
	"sync/atomic"
	"time"
)

// Peak measures this machine's peak multiply-add rate by running an FMA
// loop (independent chains, widest vectors the CPU has: AVX-512 zmm if
// AVX512F, else AVX2 ymm FMA, else a scalar Go loop) on `workers`
// goroutines at once for about `d`, and returns FLOP/s (a multiply-add
// counts 2) and a description such as "avx512 fma" / "avx2 fma" /
// "scalar go".
//
// For BF16, when its products run on AVX512_BF16 (NativeBF16) the loop is
// VDPBF16PS on zmm ("avx512 bf16 dot": 16 lanes × 2 multiply-adds, 64 FLOP
// an instruction); otherwise BF16 products run on the fp32 kernel, so its
// peak is F32's (same loop and description). The time is split into a few repetitions and the best
// one counts; each goroutine runs at least one short burst (a few
// microseconds) even when d is tiny. workers below 1 counts as 1.
func Peak(dt DType, workers int, d time.Duration) (flops float64, how string) {
	dt.check()
	loop, flopPerIter, how := peakLoop(dt)
	return peakRun(loop, flopPerIter, workers, d), how
}

// peakRun times loop (flopPerIter FLOP an iteration) on workers goroutines
// for about d, as Peak describes, and returns the best rate in FLOP/s.
func peakRun(loop func(n int), flopPerIter float64, workers int, d time.Duration) (flops float64) {
	workers = max(workers, 1)
	const reps, burst = 3, 1 << 10 // repetitions; loop iterations between clock reads
	per := d / reps
	counts := make([]struct {
		n int64
		_ [56]byte // own cache line
	}, workers)
	for range reps {
		var wg sync.WaitGroup
		start := make(chan struct{})
		var t0 time.Time
		for w := range counts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				var n int64
				for {
					loop(burst)
					n += burst
					if time.Since(t0) >= per {
						break
					}
				}
				counts[w].n = n
			}()
		}
		t0 = time.Now()
		close(start)
		wg.Wait()
		el := time.Since(t0).Seconds()
		var iters int64
		for _, c := range counts {
			iters += c.n
		}
		flops = max(flops, float64(iters)*flopPerIter/el)
	}
	return flops
}

// peakGoChains is the number of independent chains of peakGo.
const peakGoChains = 12

// peakSink keeps peakGo's results alive.
var peakSink atomic.Uint32

// peakGo runs n iterations of peakGoChains independent float32
// multiply-add chains x = x·0.999999 + 1e-6 (2 FLOP each), in plain Go.
func peakGo(n int) {
	const mul, add = 0.999999, 1e-6
	var x [peakGoChains]float32
	for i := range x {
		x[i] = 1
	}
	x0, x1, x2, x3, x4, x5 := x[0], x[1], x[2], x[3], x[4], x[5]
	x6, x7, x8, x9, x10, x11 := x[6], x[7], x[8], x[9], x[10], x[11]
	for range n {
		x0 = x0*mul + add
		x1 = x1*mul + add
		x2 = x2*mul + add
		x3 = x3*mul + add
		x4 = x4*mul + add
		x5 = x5*mul + add
		x6 = x6*mul + add
		x7 = x7*mul + add
		x8 = x8*mul + add
		x9 = x9*mul + add
		x10 = x10*mul + add
		x11 = x11*mul + add
	}
	s := x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11
	peakSink.Store(uint32(s))
}
