//go:build amd64 && !purego

package imageio

import "golang.org/x/sys/cpu"

// useResizeAVX2 selects the AVX2 vertical resampling pass (tests switch
// it off to cover the portable Go code).
var useResizeAVX2 = cpu.X86.HasAVX2

// verticalAVX2 computes dst[i] = clip8(2²¹ + Σ_j src[j·stride+i]·k[j]),
// one output row of the vertical pass, 32 bytes at a time in 32-bit
// lanes (the sums are Pillow's, exactly: integers in any order), and
// returns how many bytes it did (a multiple of 32; the caller does the
// rest). Row j of the input, src[j·stride:], must hold len(dst) bytes.
//
//go:noescape
func verticalAVX2(dst, src []byte, stride int, k []int32) int

// horizontalAVX2 resamples one row of RGB pixels: for each output pixel x
// < len(start), dst[3x:3x+3] = clip8(2²¹ + Σ_j row[start[x]+3j+c]·k[j])
// for c = 0, 1, 2, the taps taken five pixels at a time (16 bytes read,
// 15 used), their weights at kg[8(x·groups+g):], five then three zeros.
// The caller makes sure that the 16·groups bytes from row[start[x]] can
// be read.
//
//go:noescape
func horizontalAVX2(dst, row []byte, start, kg []int32, groups int)

// useAdlerAVX2 selects the AVX2 Adler-32 kernel.
var useAdlerAVX2 = cpu.X86.HasAVX2

// adler32AVX2 returns, for p of a multiple of 32 bytes and at most
// adlerBlock, a = Σ p[i] and b = Σ (len(p)−i)·p[i]: Adler-32's two sums
// of p from zero, not reduced.
//
//go:noescape
func adler32AVX2(p []byte) (a, b uint32)
