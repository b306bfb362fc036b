//go:build amd64 && !purego

package kernels

// buildPaths lists every kernel path of this build, with the features each
// needs as the dispatchers test them (cpuKernels, cpuBF16Kernels,
// useAVX2BF16, useAVX2Act, useAVX2Norm). There is no VNNI (int8) path.
func buildPaths() []kernelPath {
	set := func(v *bool) func(bool) func() {
		return func(on bool) func() {
			old := *v
			*v = on
			return func() { *v = old }
		}
	}
	return append([]kernelPath{
		gemmPath(kernelAVX512, featAVX512F, featAVX512VL),
		gemmPath(kernelAVX2, featAVX2, featFMA),
		bf16Path("bf16/"+kernelBF16AVX512.name, kernelBF16AVX512, featAVX512F, featAVX512BF16),
		{name: "bf16-convert/avx2", needs: []cpuFeature{featAVX2},
			force: func() func() { return set(&useAVX2BF16)(true) }, check: checkBF16Convert},
		{name: "elementwise/avx2", needs: []cpuFeature{featAVX2, featFMA},
			force: func() func() { return set(&useAVX2Act)(true) }, check: checkElementwise},
		{name: "layernorm/avx2", needs: []cpuFeature{featAVX2, featFMA},
			force: func() func() { return set(&useAVX2Norm)(true) }, check: checkLayerNorm},
	}, portablePaths(set(&useAVX2BF16), set(&useAVX2Act), set(&useAVX2Norm))...)
}

// notBuilt lists the paths this build leaves out; buildTags says why.
var notBuilt []string
