//go:build amd64 && !purego

package kernels

import (
	"slices"

	"golang.org/x/sys/cpu"
)

// CPU features of the assembly paths.
var (
	featAVX2       = cpuFeature{"AVX2", cpu.X86.HasAVX2}
	featFMA        = cpuFeature{"FMA", cpu.X86.HasFMA}
	featAVX512F    = cpuFeature{"AVX512F", cpu.X86.HasAVX512F}
	featAVX512VL   = cpuFeature{"AVX512VL", cpu.X86.HasAVX512VL}
	featAVX512BF16 = cpuFeature{"AVX512_BF16", cpu.X86.HasAVX512BF16}
)

// buildPathSets lists the path sets of this build, as the CPUs that make
// them: AVX-512 with bf16 instructions faster than its fp32 kernel (Zen 4,
// Zen 5); AVX-512 without them, or with slower ones (Skylake-X, Sapphire
// Rapids); AVX2 and FMA without AVX-512 (Haswell to Zen 3); no AVX2.
// The features are those the dispatchers test (cpuKernels,
// cpuBF16Kernels, useAVX2BF16, useAVX2Act, useAVX2Norm).
func buildPathSets() []pathSet {
	avx2 := []cpuFeature{featAVX2, featFMA}
	avx512 := slices.Concat([]cpuFeature{featAVX512F, featAVX512VL}, avx2)
	return []pathSet{
		{name: "avx512bf16", needs: slices.Concat(avx512, []cpuFeature{featAVX512BF16}), mk: kernelAVX512, bk: kernelBF16AVX512, avx2BF16: true, avx2Act: true, avx2Norm: true},
		{name: "avx512", needs: avx512, mk: kernelAVX512, avx2BF16: true, avx2Act: true, avx2Norm: true},
		{name: "avx2", needs: avx2, mk: kernelAVX2, avx2BF16: true, avx2Act: true, avx2Norm: true},
		goPaths,
	}
}

// pathSetsNotBuilt lists the sets this build leaves out; buildTags says why.
var (
	pathSetsNotBuilt []string
	buildTags        = ""
)

// currentSwitches returns the paths the dispatchers choose now, but for
// the bf16 kernel (bk nil), which they choose by timing on first use.
func currentSwitches() pathSet {
	return pathSet{mk: kernel, avx2BF16: useAVX2BF16, avx2Act: useAVX2Act, avx2Norm: useAVX2Norm}
}

// setPaths makes the dispatchers choose the paths of s.
func setPaths(s pathSet) {
	nativeBF16Kernel() // settle the timed choice first
	kernel, nativeBF16.bk = s.mk, s.bk
	useAVX2BF16, useAVX2Act, useAVX2Norm = s.avx2BF16, s.avx2Act, s.avx2Norm
}
