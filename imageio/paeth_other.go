//go:build !amd64 || purego

package imageio

const usePaethAVX = false

func paethAVX(cur, prev []byte, bpp int) int { panic("unreachable") }
