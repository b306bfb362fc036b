//go:build amd64 && !purego

package imageio

import "golang.org/x/sys/cpu"

// setResizeAVX2 switches the AVX2 vertical pass on (where the CPU has
// AVX2) or off, and reports whether it is on.
func setResizeAVX2(on bool) bool {
	useResizeAVX2 = on && cpu.X86.HasAVX2
	return useResizeAVX2
}
