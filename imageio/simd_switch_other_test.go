//go:build !amd64 || purego

package imageio

func setResizeAVX2(bool) bool { return false }
