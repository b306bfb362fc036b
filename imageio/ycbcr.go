package imageio

import (
	"image"
	"sync"
)

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
	if format == "webp" {
		cb := make([]uint8, w*h)
		cr := make([]uint8, w*h)
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
	jpegRows(out, m, cw, ch, hs, vs)
	return true
}

// jpegRows converts m to RGB into out a row at a time: the row's chroma
// upsampled (upsampleJPEG) into two row buffers, then converted with
// libjpeg's jdcolor.c tables (16-bit fixed point, rounded).
func jpegRows(out *RGB, m *image.YCbCr, cw, ch, hs, vs int) {
	t := jpegTables()
	w, h := out.W, out.H
	cb, cr := make([]uint8, w), make([]uint8, w)
	sum := make([]int, cw)
	for y := range h {
		upsampleJPEG(cb, m.Cb, m.CStride, sum, y, w, cw, ch, hs, vs)
		upsampleJPEG(cr, m.Cr, m.CStride, sum, y, w, cw, ch, hs, vs)
		ys := m.Y[y*m.YStride : y*m.YStride+w]
		d := out.Pix[y*w*3 : (y+1)*w*3]
		for x, yy := range ys {
			b, r := cb[x], cr[x]
			o := d[x*3 : x*3+3 : x*3+3]
			o[0] = clampU8(int(yy) + int(t.crR[r]))
			o[1] = clampU8(int(yy) + int((t.cbG[b]+t.crG[r])>>16))
			o[2] = clampU8(int(yy) + int(t.cbB[b]))
		}
	}
}

// ycbcrTables are libjpeg's colour conversion terms for each 8-bit chroma
// value: R = Y + crR[Cr], G = Y + (cbG[Cb]+crG[Cr])>>16, B = Y + cbB[Cb].
type ycbcrTables struct {
	crR, cbB [256]int32
	cbG, crG [256]int32
}

var jpegTables = sync.OnceValue(func() *ycbcrTables {
	t := new(ycbcrTables)
	for v := range 256 {
		c := v - 128
		t.crR[v] = int32((91881*c + 1<<15) >> 16)
		t.cbB[v] = int32((116130*c + 1<<15) >> 16)
		t.cbG[v] = int32(-22554*c + 1<<15)
		t.crG[v] = int32(-46802 * c)
	}
	return t
})

// upsampleJPEG expands row y of a cw×ch chroma plane to w samples like
// libjpeg(-turbo)'s jdsample.c: triangular ("fancy") filters for 2×1, 2×2
// (when the plane is more than 2 samples wide) and 1×2 subsampling, with
// libjpeg's alternating rounding biases; sample replication otherwise.
// Edges replicate. sum: scratch of cw ints.
func upsampleJPEG(dst, src []uint8, stride int, sum []int, y, w, cw, ch, hs, vs int) {
	row := func(cy int) []uint8 {
		cy = min(max(cy, 0), ch-1)
		return src[cy*stride : cy*stride+cw]
	}
	fancyH := hs == 2 && cw > 2
	switch {
	case fancyH && vs == 2:
		// The vertical triangle first: 3·nearest row + farther row.
		near, far := row(y/2), row(y/2-1)
		if y&1 == 1 {
			far = row(y/2 + 1)
		}
		sum = sum[:cw]
		far = far[:cw]
		for i, v := range near {
			sum[i] = 3*int(v) + int(far[i])
		}
		// Then the horizontal one, two samples a chroma sample; the
		// edges replicate.
		dst[0] = uint8((4*sum[0] + 8) >> 4)
		for cx := 1; cx < cw-1; cx++ {
			s := 3 * sum[cx]
			d := dst[2*cx-1 : 2*cx+1 : 2*cx+1]
			d[0] = uint8((3*sum[cx-1] + sum[cx] + 7) >> 4)
			d[1] = uint8((s + sum[cx-1] + 8) >> 4)
		}
		// The last chroma sample's outputs and the one before it.
		for x := max(2*(cw-1)-1, 1); x < w; x++ {
			cx := x / 2
			if x&1 == 0 {
				dst[x] = uint8((3*sum[cx] + sum[max(cx-1, 0)] + 8) >> 4)
			} else {
				dst[x] = uint8((3*sum[cx] + sum[min(cx+1, cw-1)] + 7) >> 4)
			}
		}
	case fancyH && vs == 1:
		r := row(y)
		for x := range w {
			cx := x / 2
			if x&1 == 0 {
				dst[x] = uint8((3*int(r[cx]) + int(r[max(cx-1, 0)]) + 1) >> 2)
			} else {
				dst[x] = uint8((3*int(r[cx]) + int(r[min(cx+1, cw-1)]) + 2) >> 2)
			}
		}
	case hs == 1 && vs == 2:
		near := row(y / 2)
		if y&1 == 0 {
			far := row(y/2 - 1)
			for x := range w {
				dst[x] = uint8((3*int(near[x]) + int(far[x]) + 1) >> 2)
			}
		} else {
			far := row(y/2 + 1)
			for x := range w {
				dst[x] = uint8((3*int(near[x]) + int(far[x]) + 2) >> 2)
			}
		}
	default:
		r := row(y / vs)
		for x := range w {
			dst[x] = r[min(x/hs, cw-1)]
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
