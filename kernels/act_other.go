//go:build !amd64 || purego

package kernels

const useAVX2Act = false

func geluAVX2(y, x *float32, n int)              { panic("unreachable") }
func geluBackwardAVX2(dx, dy, x *float32, n int) { panic("unreachable") }

func softmaxRowsAVX2(x *float32, rows, cols int) { panic("unreachable") }

func softmaxBackwardAVX2(dp, p *float32, rows, cols int, scale float32) { panic("unreachable") }

func addToAVX2(dst, src *float32, n int) { panic("unreachable") }

func expAffineAVX2(x *float32, n int, shift, scale, add float32) { panic("unreachable") }

func gateAVX2(y, x *float32, n int, k, c, bound float32)              { panic("unreachable") }
func gateBackwardAVX2(dx, dy, x *float32, n int, k, c, bound float32) { panic("unreachable") }
