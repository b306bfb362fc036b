package imageio

import (
	"fmt"
	"image"
	"image/color"
)

// RGB is an 8-bit RGB image. Pix holds H rows of W pixels of 3 bytes
// (R, G, B): the sample of channel c at column x, row y is
// Pix[(y*W+x)*3+c], so Pix is a row-major [H, W, 3] array with no padding.
type RGB struct {
	W, H int
	Pix  []uint8 // [H, W, 3]
}

// NewRGB returns a black w×h image.
func NewRGB(w, h int) *RGB {
	if w < 0 || h < 0 {
		panic(fmt.Sprintf("imageio: negative size %dx%d", w, h))
	}
	return &RGB{W: w, H: h, Pix: make([]uint8, w*h*3)}
}

// At returns the pixel at column x, row y.
func (m *RGB) At(x, y int) (r, g, b uint8) {
	i := (y*m.W + x) * 3
	return m.Pix[i], m.Pix[i+1], m.Pix[i+2]
}

// Image returns m as an *image.RGBA (opaque), for encoding or drawing.
func (m *RGB) Image() *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, m.W, m.H))
	for i, j := 0, 0; i < len(m.Pix); i, j = i+3, j+4 {
		out.Pix[j], out.Pix[j+1], out.Pix[j+2], out.Pix[j+3] = m.Pix[i], m.Pix[i+1], m.Pix[i+2], 0xff
	}
	return out
}

// Clone returns a deep copy of m.
func (m *RGB) Clone() *RGB {
	return &RGB{W: m.W, H: m.H, Pix: append([]uint8(nil), m.Pix...)}
}

// FromImage converts any image.Image to RGB the way Pillow's
// Image.convert("RGB") does: grey is replicated into the three channels,
// palette entries are looked up, alpha is dropped (colour samples are kept
// as stored, without compositing onto a background), 16-bit samples keep
// their high byte and CMYK uses Pillow's formula
// R = (255-K) - (255-K)·C/255. An *image.YCbCr is treated as JPEG data
// (JFIF full-range BT.601) and upsampled and converted as libjpeg does.
func FromImage(img image.Image) *RGB {
	return fromImage(img, "jpeg")
}

// fromImage converts img; format names the codec that produced it, which
// decides how subsampled YCbCr is upsampled and converted.
func fromImage(img image.Image, format string) *RGB {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := NewRGB(w, h)
	p := out.Pix
	switch m := img.(type) {
	case *image.RGBA:
		// Premultiplied: opaque pixels are exact; unpremultiply the rest.
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				s, d := row[x*4:x*4+4], p[(y*w+x)*3:]
				if a := s[3]; a == 0xff || a == 0 {
					d[0], d[1], d[2] = s[0], s[1], s[2]
				} else {
					d[0], d[1], d[2] = unpremul(s[0], a), unpremul(s[1], a), unpremul(s[2], a)
				}
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				d := p[(y*w+x)*3:]
				d[0], d[1], d[2] = row[x*4], row[x*4+1], row[x*4+2]
			}
		}
	case *image.NRGBA64:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				d := p[(y*w+x)*3:]
				d[0], d[1], d[2] = row[x*8], row[x*8+2], row[x*8+4]
			}
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				d := p[(y*w+x)*3:]
				d[0], d[1], d[2] = row[x], row[x], row[x]
			}
		}
	case *image.Gray16:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				v := row[x*2]
				d := p[(y*w+x)*3:]
				d[0], d[1], d[2] = v, v, v
			}
		}
	case *image.Paletted:
		var pal [256][3]uint8
		for i, c := range m.Palette {
			if i < 256 {
				pal[i] = colorRGB(c)
			}
		}
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				c := pal[row[x]]
				d := p[(y*w+x)*3:]
				d[0], d[1], d[2] = c[0], c[1], c[2]
			}
		}
	case *image.CMYK:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				s, d := row[x*4:x*4+4], p[(y*w+x)*3:]
				nk := 255 - int(s[3])
				d[0] = clampU8(nk - mulDiv255(int(s[0]), nk))
				d[1] = clampU8(nk - mulDiv255(int(s[1]), nk))
				d[2] = clampU8(nk - mulDiv255(int(s[2]), nk))
			}
		}
	case *image.YCbCr:
		if !ycbcrToRGB(out, m, format) {
			generic(out, img)
		}
	case *image.NYCbCrA:
		if !ycbcrToRGB(out, &m.YCbCr, format) {
			generic(out, img)
		}
	default:
		generic(out, img)
	}
	return out
}

// generic converts through image.Image.At, dropping alpha.
func generic(out *RGB, img image.Image) {
	b := img.Bounds()
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := colorRGB(img.At(x, y))
			out.Pix[i], out.Pix[i+1], out.Pix[i+2] = c[0], c[1], c[2]
			i += 3
		}
	}
}

// colorRGB returns the colour samples of c with alpha dropped.
func colorRGB(c color.Color) [3]uint8 {
	switch c := c.(type) {
	case color.NRGBA:
		return [3]uint8{c.R, c.G, c.B}
	case color.RGBA:
		if c.A == 0xff || c.A == 0 {
			return [3]uint8{c.R, c.G, c.B}
		}
		return [3]uint8{unpremul(c.R, c.A), unpremul(c.G, c.A), unpremul(c.B, c.A)}
	case color.Gray:
		return [3]uint8{c.Y, c.Y, c.Y}
	case color.NRGBA64:
		return [3]uint8{uint8(c.R >> 8), uint8(c.G >> 8), uint8(c.B >> 8)}
	case color.Gray16:
		return [3]uint8{uint8(c.Y >> 8), uint8(c.Y >> 8), uint8(c.Y >> 8)}
	}
	n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
	return [3]uint8{uint8(n.R >> 8), uint8(n.G >> 8), uint8(n.B >> 8)}
}

func unpremul(v, a uint8) uint8 {
	x := (int(v)*255 + int(a)/2) / int(a)
	if x > 255 {
		x = 255
	}
	return uint8(x)
}

// mulDiv255 is Pillow's MULDIV255: a·b/255 rounded, in integers.
func mulDiv255(a, b int) int {
	t := a*b + 128
	return ((t >> 8) + t) >> 8
}

func clampU8(v int) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}
