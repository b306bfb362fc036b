//go:build amd64 && !purego

package imageio

import "golang.org/x/sys/cpu"

// setPaethAVX switches the AVX Paeth unfilter on (where the CPU has AVX)
// or off, and reports whether it is on.
func setPaethAVX(on bool) bool {
	usePaethAVX = on && cpu.X86.HasAVX
	return usePaethAVX
}
