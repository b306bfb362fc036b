package imageio

import (
	"bytes"
	"image"
	"math/rand/v2"
	"testing"
)

// ycbcrToRGBReference is the first, plane-at-a-time version of the JPEG
// conversion of ycbcrToRGB, kept as the reference the faster row-at-a-time
// one is compared with.
func ycbcrToRGBReference(out *RGB, m *image.YCbCr, hs, vs int) {
	w, h := out.W, out.H
	cw, ch := (w+hs-1)/hs, (h+vs-1)/vs
	cb := make([]uint8, w*h)
	cr := make([]uint8, w*h)
	upsampleJPEGReference(cb, m.Cb, m.CStride, w, h, cw, ch, hs, vs)
	upsampleJPEGReference(cr, m.Cr, m.CStride, w, h, cw, ch, hs, vs)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			yy := int(m.Y[y*m.YStride+x])
			b, r := int(cb[y*w+x])-128, int(cr[y*w+x])-128
			d := out.Pix[(y*w+x)*3:]
			// libjpeg's jdcolor.c tables: 16-bit fixed point, rounded.
			d[0] = clampU8(yy + (91881*r+1<<15)>>16)
			d[1] = clampU8(yy + (-22554*b+1<<15-46802*r)>>16)
			d[2] = clampU8(yy + (116130*b+1<<15)>>16)
		}
	}
}

// upsampleJPEGReference expands a cw×ch chroma plane to w×h like libjpeg(-turbo)'s
// jdsample.c: triangular ("fancy") filters for 2×1, 2×2 (when the plane is
// more than 2 samples wide) and 1×2 subsampling, with libjpeg's alternating
// rounding biases; sample replication otherwise. Edges replicate.
func upsampleJPEGReference(dst, src []uint8, stride, w, h, cw, ch, hs, vs int) {
	at := func(x, y int) int {
		x = min(max(x, 0), cw-1)
		y = min(max(y, 0), ch-1)
		return int(src[y*stride+x])
	}
	fancyH := hs == 2 && cw > 2
	switch {
	case fancyH && vs == 2:
		for y := 0; y < h; y++ {
			cy, fy := y/2, y/2-1
			if y&1 == 1 {
				fy = y/2 + 1
			}
			for x := 0; x < w; x++ {
				cx := x / 2
				this := at(cx, cy)*3 + at(cx, fy)
				if x&1 == 0 {
					other := at(cx-1, cy)*3 + at(cx-1, fy)
					dst[y*w+x] = uint8((this*3 + other + 8) >> 4)
				} else {
					other := at(cx+1, cy)*3 + at(cx+1, fy)
					dst[y*w+x] = uint8((this*3 + other + 7) >> 4)
				}
			}
		}
	case fancyH && vs == 1:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				cx := x / 2
				if x&1 == 0 {
					dst[y*w+x] = uint8((at(cx, y)*3 + at(cx-1, y) + 1) >> 2)
				} else {
					dst[y*w+x] = uint8((at(cx, y)*3 + at(cx+1, y) + 2) >> 2)
				}
			}
		}
	case hs == 1 && vs == 2:
		for y := 0; y < h; y++ {
			cy := y / 2
			for x := 0; x < w; x++ {
				if y&1 == 0 {
					dst[y*w+x] = uint8((at(x, cy)*3 + at(x, cy-1) + 1) >> 2)
				} else {
					dst[y*w+x] = uint8((at(x, cy)*3 + at(x, cy+1) + 2) >> 2)
				}
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				dst[y*w+x] = uint8(at(x/hs, y/vs))
			}
		}
	}
}

// TestJPEGRowsMatchReference: the row-at-a-time conversion gives exactly
// the pixels of the plane-at-a-time one, for every subsampling ratio, odd
// sizes and random samples.
func TestJPEGRowsMatchReference(t *testing.T) {
	ratios := map[image.YCbCrSubsampleRatio][2]int{
		image.YCbCrSubsampleRatio444: {1, 1}, image.YCbCrSubsampleRatio422: {2, 1}, image.YCbCrSubsampleRatio420: {2, 2},
		image.YCbCrSubsampleRatio440: {1, 2}, image.YCbCrSubsampleRatio411: {4, 1}, image.YCbCrSubsampleRatio410: {4, 2},
	}
	r := rand.New(rand.NewPCG(3, 4))
	for ratio, s := range ratios {
		for _, size := range [][2]int{{1, 1}, {2, 3}, {3, 2}, {5, 5}, {8, 8}, {17, 9}, {33, 31}} {
			m := image.NewYCbCr(image.Rect(0, 0, size[0], size[1]), ratio)
			for _, p := range [][]uint8{m.Y, m.Cb, m.Cr} {
				for i := range p {
					p[i] = uint8(r.UintN(256))
				}
			}
			got, want := NewRGB(size[0], size[1]), NewRGB(size[0], size[1])
			if !ycbcrToRGB(got, m, "jpeg") {
				t.Fatalf("%v %v: not converted", ratio, size)
			}
			ycbcrToRGBReference(want, m, s[0], s[1])
			if !bytes.Equal(got.Pix, want.Pix) {
				t.Errorf("%v %dx%d: the row conversion differs from the reference", ratio, size[0], size[1])
			}
		}
	}
}
