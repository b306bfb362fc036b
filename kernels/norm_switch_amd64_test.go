//go:build amd64 && !purego

package kernels

func setNorm(v bool) { useAVX2Norm = v }
