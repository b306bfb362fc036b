//go:build amd64 && !purego

package kernels

func setAct(v bool) { useAVX2Act = v }
