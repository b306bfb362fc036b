//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

//go:generate go run gen_asm.go

// sgemmKernelAVX512 computes a 12×32 tile: C = alpha·Ap·Bp + beta·C, where
// Ap is k steps of 12 packed A values, Bp is k steps of 32 packed B values
// and C has row stride ldc floats. beta = ±0 does not read C.
//
//go:noescape
func sgemmKernelAVX512(k int, a, b, c *float32, ldc int, alpha, beta float32)

// sgemmKernelAVX2 is sgemmKernelAVX512 for a 6×16 tile with AVX2 and FMA.
//
//go:noescape
func sgemmKernelAVX2(k int, a, b, c *float32, ldc int, alpha, beta float32)

// sgemmKernelAVX2Strided is sgemmKernelAVX2 on operands read in place:
// step p of row r of A is at a[r·aRow + p·aStep] and step p of the 16
// columns of B at b[p·bStep:][:16] (strides in floats). With packed
// panels (aRow 1, aStep 6, bStep 16) it gives sgemmKernelAVX2's bits.
//
//go:noescape
func sgemmKernelAVX2Strided(k int, a *float32, aRow, aStep int, b *float32, bStep int, c *float32, ldc int, alpha, beta float32)

// The AVX-512 kernel has no in-place variant (it could not be tested on
// the AVX2 machines this path was tuned on): its products always pack.
var (
	kernelAVX512 = &microKernel{name: "avx512", mr: 12, nr: 32, kc: 128, mc: 192, nc: 3072, fn: sgemmKernelAVX512, asmPack: true}
	kernelAVX2   = &microKernel{name: "avx2", mr: 6, nr: 16, kc: 256, mc: 96, nc: 3072, fn: sgemmKernelAVX2, strided: sgemmKernelAVX2Strided, asmPack: true}
)

// cpuKernels lists the microkernels this CPU runs, fastest first.
func cpuKernels() []*microKernel {
	var ks []*microKernel
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL {
		ks = append(ks, kernelAVX512)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, kernelAVX2)
	}
	return append(ks, kernelGo)
}

// bf16KernelAVX512 computes a 12×32 tile on AVX512_BF16: C = alpha·Ap·Bp +
// beta·C over kp k-pairs, where Ap holds 12 rows of kp 32-bit words (row
// stride kp words; word q of a row holds the bf16 values of k steps 2q and
// 2q+1, the lower step in the low half), Bp holds kp steps of 32 such words
// (one per column) and C has row stride ldc floats. beta = ±0 does not read
// C.
//
//go:noescape
func bf16KernelAVX512(kp int, a, b *uint16, c *float32, ldc int, alpha, beta float32)

// cvtRowsBF16 rounds the first 32·n32 floats of each of rows rows of src
// (row stride lds floats) to bf16 into dst (row stride ldd values), with
// VCVTNE2PS2BF16 (AVX512_BF16): round to nearest even, NaN kept (quieted),
// denormals to signed zero, exactly as toBF16.
//
//go:noescape
func cvtRowsBF16(dst *uint16, ldd int, src *float32, lds, rows, n32 int)

// roundBF16AVX2 rounds x[:n] to bf16 precision in place, exactly as
// toBF16 (n a multiple of 8; AVX2).
//
//go:noescape
func roundBF16AVX2(x *float32, n int)

// widenBF16AVX2 sets dst[i] = src[i] widened to float32 for i < n (n a
// multiple of 8; AVX2).
//
//go:noescape
func widenBF16AVX2(dst *float32, src *uint16, n int)

// useAVX2BF16 selects roundBF16AVX2 and widenBF16AVX2 (tests switch it off
// to cover the Go loops).
var useAVX2BF16 = cpu.X86.HasAVX2

// roundBF16s rounds each value of x to bf16 precision in place (toBF16).
func roundBF16s(x []float32) {
	n := 0
	if useAVX2BF16 {
		if n = len(x) &^ 7; n > 0 {
			roundBF16AVX2(&x[0], n)
		}
	}
	roundBF16sGo(x[n:])
}

// widenBF16 sets dst[i] = src[i] widened to float32; dst is at least as
// long as src.
func widenBF16(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	n := 0
	if useAVX2BF16 {
		if n = len(src) &^ 7; n > 0 {
			widenBF16AVX2(&dst[0], &src[0], n)
		}
	}
	widenBF16Go(dst[n:], src[n:])
}

var kernelBF16AVX512 = &bf16Kernel{name: "avx512bf16", mr: 12, nr: 32, kc: 256, mc: 192, nc: 3072, fn: bf16KernelAVX512, asmCvt: true}

// cpuBF16Kernels lists the bf16-pair kernels this CPU runs, fastest first:
// none without AVX512_BF16.
func cpuBF16Kernels() []*bf16Kernel {
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BF16 {
		return []*bf16Kernel{kernelBF16AVX512}
	}
	return nil
}

// packT8 transposes 8 rows into a panel: for p < n&^7 and i < 8 it sets
// dst[p·ldd + i] = rows[i][p]. Every row must hold n&^7 floats.
//
//go:noescape
func packT8(dst *float32, ldd int, rows *[8]*float32, n int)

// prefetchRows prefetches the lines of the first n floats of each of rows
// rows at p (row stride stride floats).
//
//go:noescape
func prefetchRows(p *float32, stride, rows, n int)

// packCopy copies n rows of w floats (w is 6, 12, 16 or 32) from src, with
// row stride lds floats, into the dense dst.
//
//go:noescape
func packCopy(dst, src *float32, lds, n, w int)
