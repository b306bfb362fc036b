package kernels

import "golang.org/x/sys/cpu"

// useAVX2Act selects the AVX2+FMA elementwise kernels (tests switch it off
// to cover the portable Go code).
var useAVX2Act = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func geluAVX2(y, x *float32, n int)

//go:noescape
func geluBackwardAVX2(dx, dy, x *float32, n int)

//go:noescape
func expShiftSumAVX2(dst, src *float32, n int, shift float32) float32

//go:noescape
func addToAVX2(dst, src *float32, n int)
