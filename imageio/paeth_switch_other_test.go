//go:build !amd64 || purego

package imageio

func setPaethAVX(bool) bool { return false }
