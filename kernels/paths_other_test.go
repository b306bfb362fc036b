//go:build !amd64 || purego

package kernels

// buildPaths lists every kernel path of this build: the portable Go ones.
// Their switches are constants here, so forcing them does nothing.
func buildPaths() []kernelPath {
	keep := func(bool) func() { return func() {} }
	return portablePaths(func(bool) func() { return func() {} }, keep, keep)
}

// notBuilt lists the assembly paths this build leaves out; buildTags says why.
var notBuilt = []string{"gemm/avx512", "gemm/avx2", "bf16/avx512bf16", "bf16-convert/avx2", "elementwise/avx2", "layernorm/avx2"}
