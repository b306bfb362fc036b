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

var (
	kernelAVX512 = &microKernel{name: "avx512", mr: 12, nr: 32, kc: 128, mc: 192, nc: 3072, fn: sgemmKernelAVX512, asmPack: true}
	kernelAVX2   = &microKernel{name: "avx2", mr: 6, nr: 16, kc: 256, mc: 96, nc: 3072, fn: sgemmKernelAVX2, asmPack: true}
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

// packT8 transposes 8 rows into a panel: for p < n&^7 and i < 8 it sets
// dst[p·ldd + i] = rows[i][p]. Every row must hold n&^7 floats.
//
//go:noescape
func packT8(dst *float32, ldd int, rows *[8]*float32, n int)

// packCopy copies n rows of w floats (w is 6, 12, 16 or 32) from src, with
// row stride lds floats, into the dense dst.
//
//go:noescape
func packCopy(dst, src *float32, lds, n, w int)
