//go:build amd64 && !purego

package imageio

import "golang.org/x/sys/cpu"

// usePaethAVX selects the AVX Paeth unfilter (tests switch it off to
// cover the portable Go code).
var usePaethAVX = cpu.X86.HasAVX

// paethAVX undoes the Paeth filter of cur (previous row prev) for pixels
// of bpp = 3 or 4 bytes, from the second pixel while four bytes remain,
// one pixel a step with its samples in the 16-bit lanes of a vector (the
// pixels depend on each other left to right; the samples of one do not).
// It returns the offset of the first byte not done. cur[:bpp] must be
// done.
//
//go:noescape
func paethAVX(cur, prev []byte, bpp int) int
