//go:build !amd64 || purego

package kernels

// cpuKernels lists the microkernels this CPU runs, fastest first.
func cpuKernels() []*microKernel { return []*microKernel{kernelGo} }

func packT8(dst *float32, ldd int, rows *[8]*float32, n int) { panic("kernels: no assembly packing") }
func packCopy(dst, src *float32, lds, n, w int)              { panic("kernels: no assembly packing") }
