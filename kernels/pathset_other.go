//go:build !amd64 || purego

package kernels

// buildPathSets lists the path sets of this build: portable Go alone.
func buildPathSets() []pathSet { return []pathSet{goPaths} }

// pathSetsNotBuilt lists the sets this build leaves out; buildTags says why.
var (
	pathSetsNotBuilt = []string{"avx512bf16", "avx512", "avx2"}
	buildTags        = "purego tag, or not amd64"
)

// currentSwitches returns the paths the dispatchers choose now, but for
// the bf16 kernel (bk nil), which they choose by timing on first use.
func currentSwitches() pathSet {
	return pathSet{mk: kernel, avx2BF16: useAVX2BF16, avx2Act: useAVX2Act, avx2Norm: useAVX2Norm}
}

// setPaths makes the dispatchers choose the paths of s; this build has
// only the Go loops, whose switches are constants.
func setPaths(s pathSet) {
	nativeBF16Kernel()
	kernel, nativeBF16.bk = s.mk, s.bk
}
