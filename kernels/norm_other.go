//go:build !amd64 || purego

package kernels

const useAVX2Norm = false

func sumAVX2(x *float32, n int) float32                     { panic("unreachable") }
func sumSqDevAVX2(x *float32, n int, mu float32) float32    { panic("unreachable") }
func lnApplyAVX2(y, x, g, b *float32, n int, c, rs float32) { panic("unreachable") }
func lnBackwardSumsAVX2(dy, x, g, gg, gb *float32, n int, c, rs float32) (float32, float32) {
	panic("unreachable")
}
func lnBackwardApplyAVX2(dx, dy, x, g *float32, n int, c, rs, k1, k2 float32) {
	panic("unreachable")
}
