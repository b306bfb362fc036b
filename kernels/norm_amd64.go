//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// useAVX2Norm selects the AVX2+FMA LayerNorm kernels (tests switch it off
// to cover the portable Go code).
var useAVX2Norm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// sumAVX2 returns Σ x[0:n]; n is a positive multiple of 8.
//
//go:noescape
func sumAVX2(x *float32, n int) float32

// sumSqDevAVX2 returns Σ (x[i] − mu)² over n (a positive multiple of 8).
//
//go:noescape
func sumSqDevAVX2(x *float32, n int, mu float32) float32

// lnApplyAVX2 sets y = (x·rs + c)·g + b over n (a positive multiple of 8).
//
//go:noescape
func lnApplyAVX2(y, x, gamma, b *float32, n int, c, rs float32)

// lnBackwardSumsAVX2 returns Σ dy·g and Σ dy·g·x̂ (x̂ = x·rs + c) and adds
// dy·x̂ into gg and dy into gb, over n (a positive multiple of 8).
//
//go:noescape
func lnBackwardSumsAVX2(dy, x, gamma, gg, gb *float32, n int, c, rs float32) (sumD, sumDX float32)

// lnBackwardApplyAVX2 adds rs·dy·g + k1 + k2·x̂ (x̂ = x·rs + c) into dx over
// n (a positive multiple of 8).
//
//go:noescape
func lnBackwardApplyAVX2(dx, dy, x, gamma *float32, n int, c, rs, k1, k2 float32)
