//go:build !amd64 || purego

package imageio

const useResizeAVX2 = false

func verticalAVX2(dst, src []byte, stride int, k []int32) int { panic("unreachable") }

func horizontalAVX2(dst, row []byte, start, kg []int32, groups int) { panic("unreachable") }

const useAdlerAVX2 = false

func adler32AVX2(p []byte) (a, b uint32) { panic("unreachable") }
