//go:build !amd64 || purego

package kernels

// peakLoop picks the loop Peak times for dt, the FLOP of one of its
// iterations and its description: the scalar Go loop here, for F32 and
// BF16 alike (BF16 runs on the fp32 kernel).
func peakLoop(dt DType) (loop func(n int), flopPerIter float64, how string) {
	return peakGo, peakGoChains * 2, "scalar go"
}
