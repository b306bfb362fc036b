//go:build !amd64 || purego

package kernels

// cpuKernels lists the microkernels this CPU runs, fastest first.
func cpuKernels() []*microKernel { return []*microKernel{kernelGo} }

// cpuBF16Kernels lists the bf16-pair kernels this CPU runs: none here.
func cpuBF16Kernels() []*bf16Kernel { return nil }

// useAVX2BF16 is false: the Go loops round and widen bf16.
var useAVX2BF16 = false

// roundBF16s rounds each value of x to bf16 precision in place (toBF16).
func roundBF16s(x []float32) { roundBF16sGo(x) }

// widenBF16 sets dst[i] = src[i] widened to float32; dst is at least as
// long as src.
func widenBF16(dst []float32, src []uint16) { widenBF16Go(dst, src) }

func cvtRowsBF16(dst *uint16, ldd int, src *float32, lds, rows, n32 int) {
	panic("kernels: no assembly bf16 conversion")
}

func packT8(dst *float32, ldd int, rows *[8]*float32, n int) { panic("kernels: no assembly packing") }
func packCopy(dst, src *float32, lds, n, w int)              { panic("kernels: no assembly packing") }

func prefetchRows(p *float32, stride, rows, n int) {}
