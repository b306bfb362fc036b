// Package interp computes the one-dimensional resampling weights of the
// position-embedding resizes of PyTorch and scipy, so that a grid of
// embeddings resized here equals the one resized there: a 2-D resize is
// the product of a weight matrix along each axis.
package interp

import (
	"fmt"
	"math"
)

// Methods, each the convention of one ecosystem.
const (
	// BilinearJAX is scipy.ndimage.zoom(order=1), as the official JAX
	// loader (vit_jax checkpoint.interpolate_posembed) does: linear
	// interpolation with the corners aligned, the output sample o at
	// input coordinate o·(in−1)/(out−1).
	BilinearJAX = "bilinear-jax"
	// Bicubic is torch.nn.functional.interpolate(size=…, mode="bicubic",
	// align_corners=False), as Hugging Face's
	// ViTEmbeddings.interpolate_pos_encoding and Dinov2Embeddings: Keys'
	// cubic with A = −0.75, source coordinate (o+0.5)·in/out − 0.5, edges
	// replicated.
	Bicubic = "bicubic"
	// BicubicAntialias is the same with antialias=True, timm's
	// resample_abs_pos_embed default and Hugging Face's
	// Dinov2WithRegistersEmbeddings. PyTorch then uses Pillow's separable
	// resampler: Keys' cubic with a = −0.5, a support widened by in/out when
	// shrinking, and at the edges the taps that fall outside the grid are
	// dropped and the rest renormalised. The other coefficient and the
	// edge handling make it differ from Bicubic even when enlarging.
	BicubicAntialias = "bicubic-antialias"
)

// Methods lists the methods Weights accepts.
var Methods = []string{BicubicAntialias, Bicubic, BilinearJAX}

// Known reports whether method is one of Methods.
func Known(method string) bool {
	for _, m := range Methods {
		if m == method {
			return true
		}
	}
	return false
}

// Tap is one input sample's weight in an output sample.
type Tap struct {
	I int
	W float64
}

// Weights returns, for each of out output samples, the input samples and
// weights of method along an axis of in samples. It panics on an unknown
// method or a size below 1.
func Weights(in, out int, method string) [][]Tap {
	if in < 1 || out < 1 {
		panic(fmt.Sprintf("interp: resize of %d samples to %d", in, out))
	}
	ws := make([][]Tap, out)
	switch method {
	case BilinearJAX:
		// scipy.ndimage.zoom, grid_mode=False: zoom = (in−1)/(out−1), or 1
		// when out is 1; order 1 needs no spline prefilter.
		zoom := 1.0
		if out > 1 {
			zoom = float64(in-1) / float64(out-1)
		}
		for o := range out {
			c := float64(o) * zoom
			i0 := int(math.Floor(c))
			t := c - float64(i0)
			if i0 >= in-1 {
				i0, t = in-1, 0
			}
			ws[o] = []Tap{{i0, 1 - t}}
			if t != 0 {
				ws[o] = append(ws[o], Tap{i0 + 1, t})
			}
		}
	case Bicubic:
		// ATen upsample_bicubic2d, align_corners=False.
		const a = -0.75
		scale := float64(in) / float64(out)
		for o := range out {
			real := scale*(float64(o)+0.5) - 0.5
			i0 := math.Floor(real)
			t := real - i0
			coef := [4]float64{cubic2(t+1, a), cubic1(t, a), cubic1(1-t, a), cubic2(2-t, a)}
			for k, w := range coef {
				i := min(max(int(i0)-1+k, 0), in-1)
				ws[o] = append(ws[o], Tap{i, w})
			}
		}
	case BicubicAntialias:
		// ATen _upsample_bicubic2d_aa: Pillow's resampler with a = −0.5.
		const a = -0.5
		scale := float64(in) / float64(out)
		support, invscale := 2.0, 1.0
		if scale >= 1 {
			support, invscale = 2*scale, 1/scale
		}
		for o := range out {
			center := scale * (float64(o) + 0.5)
			xmin := max(int(center-support+0.5), 0) // int truncates toward zero, as C++
			xmax := min(int(center+support+0.5), in)
			var total float64
			for j := xmin; j < xmax; j++ {
				w := keys(math.Abs((float64(j)-center+0.5)*invscale), a)
				ws[o] = append(ws[o], Tap{j, w})
				total += w
			}
			if total != 0 {
				for k := range ws[o] {
					ws[o][k].W /= total
				}
			}
		}
	default:
		panic(fmt.Sprintf("interp: unknown resize method %q (want one of %v)", method, Methods))
	}
	return ws
}

// Grid resamples src: [inH·inW, dim], a row-major grid of vectors, to dst:
// [outH·outW, dim] with the axis weights wy (outH rows over inH) and wx
// (outW over inW), summing in float64.
func Grid(dst, src []float32, wy, wx [][]Tap, inW, dim int) {
	acc := make([]float64, dim)
	outW := len(wx)
	for y := range wy {
		for x := range wx {
			clear(acc)
			for _, ty := range wy[y] {
				for _, tx := range wx[x] {
					w := ty.W * tx.W
					s := src[(ty.I*inW+tx.I)*dim : (ty.I*inW+tx.I+1)*dim]
					for k, v := range s {
						acc[k] += w * float64(v)
					}
				}
			}
			d := dst[(y*outW+x)*dim : (y*outW+x+1)*dim]
			for k, v := range acc {
				d[k] = float32(v)
			}
		}
	}
}

// GridBackward is Grid's adjoint: it adds into dsrc: [inH·inW, dim] the
// gradient of dst's loss, ddst: [outH·outW, dim].
func GridBackward(dsrc, ddst []float32, wy, wx [][]Tap, inW, dim int) {
	outW := len(wx)
	for y := range wy {
		for x := range wx {
			g := ddst[(y*outW+x)*dim : (y*outW+x+1)*dim]
			for _, ty := range wy[y] {
				for _, tx := range wx[x] {
					w := float32(ty.W * tx.W)
					s := dsrc[(ty.I*inW+tx.I)*dim : (ty.I*inW+tx.I+1)*dim]
					for k, v := range g {
						s[k] += w * v
					}
				}
			}
		}
	}
}

// cubic1 and cubic2 are Keys' cubic convolution kernel on |x| ≤ 1 and
// 1 < |x| < 2 (ATen's cubic_convolution1 and cubic_convolution2).
func cubic1(x, a float64) float64 { return ((a+2)*x-(a+3))*x*x + 1 }
func cubic2(x, a float64) float64 { return ((a*x-5*a)*x+8*a)*x - 4*a }

// keys is Keys' kernel at |x|, zero from 2 on.
func keys(x, a float64) float64 {
	switch {
	case x < 1:
		return cubic1(x, a)
	case x < 2:
		return cubic2(x, a)
	}
	return 0
}
