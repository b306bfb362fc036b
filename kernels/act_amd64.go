//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// useAVX2Act selects the AVX2+FMA elementwise kernels (tests switch it off
// to cover the portable Go code).
var useAVX2Act = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func geluAVX2(y, x *float32, n int)

//go:noescape
func geluBackwardAVX2(dx, dy, x *float32, n int)

// softmaxRowsAVX2 is SoftmaxRows on x[:rows*cols] (cols ≥ 1), tails
// included.
//
//go:noescape
func softmaxRowsAVX2(x *float32, rows, cols int)

// softmaxBackwardAVX2 is SoftmaxBackwardRows on dp[:rows*cols] and
// p[:rows*cols] (cols ≥ 1), tails included.
//
//go:noescape
func softmaxBackwardAVX2(dp, p *float32, rows, cols int, scale float32)

//go:noescape
func addToAVX2(dst, src *float32, n int)

// expAffineAVX2 sets x[i] = scale·exp(x[i] − shift) + add over n (a
// positive multiple of 8).
//
//go:noescape
func expAffineAVX2(x *float32, n int, shift, scale, add float32)

// gateAVX2 is GateForward's loop over n (a positive multiple of 8) values
// of the gate K, C, with bound = Gate.bound().
//
//go:noescape
func gateAVX2(y, x *float32, n int, k, c, bound float32)

// gateBackwardAVX2 is GateBackward's loop over n (a positive multiple of
// 8) values; dx may alias dy.
//
//go:noescape
func gateBackwardAVX2(dx, dy, x *float32, n int, k, c, bound float32)
