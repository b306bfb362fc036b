package nn

import "github.com/vitgo/vit/kernels"

// MaxPool2D takes the maximum over kernel×kernel windows moved by stride,
// with padding positions on each side that never win (PyTorch's MaxPool2d:
// padding is −∞): x: [batch, h, w, channels] channels-last into y: [batch,
// oh, ow, channels], oh = (h+2·padding−kernel)/stride+1. arg, when not nil,
// receives the index within x of each output's maximum, for
// MaxPool2DBackward.
func MaxPool2D(y []float32, arg []int32, x []float32, batch, h, w, channels, kernel, stride, padding int) {
	oh, ow := (h+2*padding-kernel)/stride+1, (w+2*padding-kernel)/stride+1
	kernels.ParallelFor(batch, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			for oy := range oh {
				for ox := range ow {
					out := ((b*oh+oy)*ow + ox) * channels
					for ch := range channels {
						best, at := float32(0), -1
						for ky := range kernel {
							iy := oy*stride + ky - padding
							if iy < 0 || iy >= h {
								continue
							}
							for kx := range kernel {
								ix := ox*stride + kx - padding
								if ix < 0 || ix >= w {
									continue
								}
								i := ((b*h+iy)*w+ix)*channels + ch
								if at < 0 || x[i] > best {
									best, at = x[i], i
								}
							}
						}
						y[out+ch] = best
						if arg != nil {
							arg[out+ch] = int32(at)
						}
					}
				}
			}
		}
	})
}

// MaxPool2DBackward adds each output gradient dy to the input position
// that won its window (arg, from MaxPool2D) in dx, which it clears first.
func MaxPool2DBackward(dx, dy []float32, arg []int32) {
	clear(dx)
	for i, a := range arg {
		dx[a] += dy[i]
	}
}
