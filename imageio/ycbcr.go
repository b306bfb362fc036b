package imageio

import "image"

// ycbcrToRGB upsamples the chroma planes of m and converts it to RGB into
// out, the way libjpeg (format "jpeg") or libwebp (format "webp") do with
// their default "fancy" upsampling. It reports false for layouts it does
// not handle, which the caller then converts generically.
func ycbcrToRGB(out *RGB, m *image.YCbCr, format string) bool {
	if m.Rect.Min != (image.Point{}) {
		return false
	}
	var hs, vs int
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio422:
		hs, vs = 2, 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case image.YCbCrSubsampleRatio440:
		hs, vs = 1, 2
	case image.YCbCrSubsampleRatio411:
		hs, vs = 4, 1
	case image.YCbCrSubsampleRatio410:
		hs, vs = 4, 2
	default:
		return false
	}
	w, h := out.W, out.H
	cw, ch := (w+hs-1)/hs, (h+vs-1)/vs
	if len(m.Cb) < (ch-1)*m.CStride+cw || len(m.Cr) < (ch-1)*m.CStride+cw || len(m.Y) < (h-1)*m.YStride+w {
		return false
	}
	cb := make([]uint8, w*h)
	cr := make([]uint8, w*h)
	if format == "webp" {
		if hs != 2 || vs != 2 {
			return false
		}
		upsampleWebP(cb, m.Cb, m.CStride, w, h, cw, ch)
		upsampleWebP(cr, m.Cr, m.CStride, w, h, cw, ch)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yy := int(m.Y[y*m.YStride+x])
				u, v := int(cb[y*w+x]), int(cr[y*w+x])
				d := out.Pix[(y*w+x)*3:]
				d[0] = webpClip(multHi(yy, 19077) + multHi(v, 26149) - 14234)
				d[1] = webpClip(multHi(yy, 19077) - multHi(u, 6419) - multHi(v, 13320) + 8708)
				d[2] = webpClip(multHi(yy, 19077) + multHi(u, 33050) - 17685)
			}
		}
		return true
	}
	upsampleJPEG(cb, m.Cb, m.CStride, w, h, cw, ch, hs, vs)
	upsampleJPEG(cr, m.Cr, m.CStride, w, h, cw, ch, hs, vs)
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
	return true
}

// upsampleJPEG expands a cw×ch chroma plane to w×h like libjpeg(-turbo)'s
// jdsample.c: triangular ("fancy") filters for 2×1, 2×2 (when the plane is
// more than 2 samples wide) and 1×2 subsampling, with libjpeg's alternating
// rounding biases; sample replication otherwise. Edges replicate.
func upsampleJPEG(dst, src []uint8, stride, w, h, cw, ch, hs, vs int) {
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

// upsampleWebP expands a 4:2:0 chroma plane like libwebp's fancy
// upsampler (dsp/upsampling.c): a (9,3,3,1)/16 filter computed in two
// rounding steps, (3,1)/4 along the image's left and right edges, and the
// nearest chroma row repeated above the first and below the last row.
func upsampleWebP(dst, src []uint8, stride, w, h, cw, ch int) {
	at := func(x, y int) int {
		y = min(max(y, 0), ch-1)
		return int(src[y*stride+x])
	}
	for y := 0; y < h; y++ {
		ny, fy := y/2, y/2-1
		if y&1 == 1 {
			fy = y/2 + 1
		}
		for x := 0; x < w; x++ {
			nx, fx := x/2, x/2-1
			if x&1 == 1 {
				fx = x/2 + 1
			}
			a, c := at(nx, ny), at(nx, fy)
			var v int
			if fx < 0 || fx >= cw {
				v = (3*a + c + 2) >> 2
			} else {
				b, d := at(fx, ny), at(fx, fy)
				v = (((a + 3*b + 3*c + d + 8) >> 3) + a) >> 1
			}
			dst[y*w+x] = uint8(v)
		}
	}
}

func multHi(v, coeff int) int { return (v * coeff) >> 8 }

// webpClip is libwebp's VP8Clip8 for 6 fractional bits.
func webpClip(v int) uint8 {
	const mask = 256<<6 - 1
	if v&^mask == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}
