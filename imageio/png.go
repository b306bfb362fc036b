package imageio

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// This file decodes PNG straight into RGB: the fast path of Decode for
// PNG, the format most images sent to a server come in. image/png returns
// an image.RGBA (or Gray, NRGBA, ...) that FromImage then converts; its
// inflate reads a byte at a time through an interface, its Paeth filter
// goes a byte at a time, and it writes every RGB pixel as 4 bytes that are
// read again: on a 401×280 photograph, about 8 ms of CPU against 36 ms for
// the ViT-Ti/16 forward pass of the image (BENCHMARKS.md, vit serve),
// enough to hold a server below the model's speed. Here the file is in
// memory, inflate.go fills one buffer of the exact size of the filtered
// rows, and the rows are unfiltered in place and written to the output
// once (8-bit RGB rows copied whole).
//
// It decodes every PNG (all colour types and bit depths, palettes, tRNS,
// Adam7 interlacing) to exactly the pixels FromImage makes of image/png's
// image, which the package tests check on photographs, on generated files
// of every kind, and by fuzzing against image/png. It is only ever more
// strict than image/png: any file it refuses (a bad checksum, chunk
// order, a zlib stream it does not take; and, in decode.go, a file over
// the fast path's size bound) is decoded by image/png, whose answer, an
// image or an error, stands.

// png colour types.
const (
	pngGrey      = 0
	pngRGB       = 2
	pngPalette   = 3
	pngGreyAlpha = 4
	pngRGBA      = 6
)

// the stages of a PNG's chunk sequence, as image/png counts them.
const (
	stStart = iota
	stIHDR
	stPLTE
	stTRNS
	stIDAT
	stIEND
)

var errPNG = errors.New("png: not decoded by the fast path")

// pngIHDR is what the fast path needs of a PNG's IHDR.
type pngIHDR struct {
	w, h       int
	depth      int
	ctype      int
	interlaced bool
}

// channels is the samples per pixel.
func (p pngIHDR) channels() int {
	switch p.ctype {
	case pngRGB:
		return 3
	case pngGreyAlpha:
		return 2
	case pngRGBA:
		return 4
	}
	return 1
}

// rowBytes is the size of a filtered row of w pixels, filter byte included.
func (p pngIHDR) rowBytes(w int) int {
	return 1 + (p.channels()*p.depth*w+7)/8
}

// adam7 are the interlace passes: x step, y step, x offset, y offset.
var adam7 = [7][4]int{{8, 8, 0, 0}, {8, 8, 4, 0}, {4, 8, 0, 4}, {4, 4, 2, 0}, {2, 4, 0, 2}, {2, 2, 1, 0}, {1, 2, 0, 1}}

// passes returns the size of each pass (one pass when not interlaced).
func (p pngIHDR) passes() [][2]int {
	if !p.interlaced {
		return [][2]int{{p.w, p.h}}
	}
	var out [][2]int
	for _, a := range adam7 {
		out = append(out, [2]int{(p.w - a[2] + a[0] - 1) / a[0], (p.h - a[3] + a[1] - 1) / a[1]})
	}
	return out
}

// rawSize is the size of the decompressed image data.
func (p pngIHDR) rawSize() int {
	n := 0
	for _, s := range p.passes() {
		if s[0] > 0 && s[1] > 0 {
			n += s[1] * p.rowBytes(s[0])
		}
	}
	return n
}

// parseIHDR validates an IHDR chunk's data as image/png does.
func parseIHDR(b []byte) (pngIHDR, bool) {
	if len(b) != 13 || b[10] != 0 || b[11] != 0 || b[12] > 1 {
		return pngIHDR{}, false
	}
	w, h := int32(binary.BigEndian.Uint32(b)), int32(binary.BigEndian.Uint32(b[4:]))
	if w <= 0 || h <= 0 {
		return pngIHDR{}, false
	}
	p := pngIHDR{w: int(w), h: int(h), depth: int(b[8]), ctype: int(b[9]), interlaced: b[12] == 1}
	ok := false
	switch p.depth {
	case 1, 2, 4:
		ok = p.ctype == pngGrey || p.ctype == pngPalette
	case 8:
		ok = p.ctype == pngGrey || p.ctype == pngRGB || p.ctype == pngPalette || p.ctype == pngGreyAlpha || p.ctype == pngRGBA
	case 16:
		ok = p.ctype == pngGrey || p.ctype == pngRGB || p.ctype == pngGreyAlpha || p.ctype == pngRGBA
	}
	return p, ok
}

// decodePNG decodes a whole PNG file into RGB, or fails with errPNG for
// the caller to decode it with image/png. maxPixels (> 0) bounds w×h
// before anything is allocated.
func decodePNG(data []byte, maxPixels int64) (*RGB, error) {
	const sig = "\x89PNG\r\n\x1a\n"
	if len(data) < len(sig) || string(data[:len(sig)]) != sig {
		return nil, errPNG
	}
	data = data[len(sig):]
	var (
		hdr     pngIHDR
		stage   = stStart
		palette [256][3]uint8
		out     *RGB
	)
	for stage != stIEND {
		if len(data) < 12 {
			return nil, errPNG
		}
		length := binary.BigEndian.Uint32(data)
		if length > 0x7fffffff || int(length) > len(data)-12 {
			return nil, errPNG
		}
		n := int(length)
		typ, body := string(data[4:8]), data[8:8+n]
		if binary.BigEndian.Uint32(data[8+n:]) != crc32.ChecksumIEEE(data[4:8+n]) {
			return nil, errPNG
		}
		data = data[12+n:]
		paletted := hdr.ctype == pngPalette
		switch typ {
		case "IHDR":
			if stage != stStart {
				return nil, errPNG
			}
			var ok bool
			if hdr, ok = parseIHDR(body); !ok {
				return nil, errPNG
			}
			if maxPixels > 0 && int64(hdr.w)*int64(hdr.h) > maxPixels {
				return nil, errPNG
			}
			stage = stIHDR
		case "PLTE":
			if stage != stIHDR {
				return nil, errPNG
			}
			stage = stPLTE
			np := n / 3
			if n%3 != 0 || np <= 0 || np > 256 || np > 1<<hdr.depth {
				return nil, errPNG
			}
			switch hdr.ctype {
			case pngPalette:
				for i := range np {
					palette[i] = [3]uint8{body[3*i], body[3*i+1], body[3*i+2]}
				}
			case pngRGB, pngRGBA: // a suggested palette: ignored
			default:
				return nil, errPNG
			}
		case "tRNS":
			// Transparency changes alpha only, which RGB drops; only
			// image/png's checks matter.
			switch {
			case paletted && stage != stPLTE,
				hdr.ctype == pngRGB && stage != stIHDR && stage != stPLTE,
				!paletted && hdr.ctype != pngRGB && stage != stIHDR:
				return nil, errPNG
			}
			stage = stTRNS
			switch hdr.ctype {
			case pngGrey:
				if n != 2 {
					return nil, errPNG
				}
			case pngRGB:
				if n != 6 {
					return nil, errPNG
				}
			case pngPalette:
				if n > 256 {
					return nil, errPNG
				}
				// Entries past PLTE's stay black, as in image/png.
			default:
				return nil, errPNG
			}
		case "IDAT":
			if stage < stIHDR || stage > stIDAT || (stage == stIHDR && paletted) {
				return nil, errPNG
			}
			if stage == stIDAT {
				break // IDAT chunks after the image's: skipped, as image/png does
			}
			stage = stIDAT
			rest, img, err := decodeIDAT(hdr, &palette, body, data)
			if err != nil {
				return nil, err
			}
			data, out = rest, img
		case "IEND":
			if stage != stIDAT || n != 0 {
				return nil, errPNG
			}
			stage = stIEND
		}
	}
	return out, nil
}

// decodeIDAT decodes the image from the IDAT chunk first and the IDAT
// chunks that follow it in rest. The zlib stream must end exactly at the
// end of one of them, as image/png requires; it returns the chunks after
// that one (IDAT chunks among them are skipped by the caller, as image/png
// skips them).
func decodeIDAT(hdr pngIHDR, palette *[256][3]uint8, first, rest []byte) ([]byte, *RGB, error) {
	// The stream, the offsets where its chunks end, and what follows each.
	z := first
	ends := []int{len(first)}
	after := [][]byte{rest}
	for len(rest) >= 12 && string(rest[4:8]) == "IDAT" {
		length := binary.BigEndian.Uint32(rest)
		if length > 0x7fffffff || int(length) > len(rest)-12 {
			return nil, nil, errPNG
		}
		n := int(length)
		if binary.BigEndian.Uint32(rest[8+n:]) != crc32.ChecksumIEEE(rest[4:8+n]) {
			return nil, nil, errPNG
		}
		if len(ends) == 1 {
			z = append(make([]byte, 0, len(first)+n), first...)
		}
		z = append(z, rest[8:8+n]...)
		rest = rest[12+n:]
		ends, after = append(ends, len(z)), append(after, rest)
	}
	raw := make([]byte, hdr.rawSize())
	used, err := inflateZlib(raw, z)
	if err != nil {
		return nil, nil, errPNG
	}
	k := 0
	for k < len(ends) && ends[k] < used {
		k++
	}
	if k == len(ends) || ends[k] != used {
		return nil, nil, errPNG // data after the stream in its last chunk
	}
	out := NewRGB(hdr.w, hdr.h)
	if !unfilterPNG(out, hdr, palette, raw) {
		return nil, nil, errPNG
	}
	return after[k], out, nil
}

// unfilterPNG undoes the row filters of raw, the decompressed image data
// of hdr, in place, and writes its pixels into out as FromImage converts
// image/png's images: grey replicated, low bit depths scaled to 8 bits,
// 16-bit samples' high byte, palette entries looked up (indices past the
// palette black), alpha dropped.
func unfilterPNG(out *RGB, hdr pngIHDR, palette *[256][3]uint8, raw []byte) bool {
	bpp := max(1, hdr.channels()*hdr.depth/8)
	off := 0
	for pass, size := range hdr.passes() {
		pw, ph := size[0], size[1]
		if pw == 0 || ph == 0 {
			continue
		}
		xs, ys, xo, yo := 1, 1, 0, 0
		if hdr.interlaced {
			a := adam7[pass]
			xs, ys, xo, yo = a[0], a[1], a[2], a[3]
		}
		rb := hdr.rowBytes(pw)
		var prev []byte
		for y := range ph {
			row := raw[off : off+rb]
			off += rb
			cur := row[1:]
			switch row[0] {
			case 0:
			case 1:
				for i := bpp; i < len(cur); i++ {
					cur[i] += cur[i-bpp]
				}
			case 2:
				if prev != nil {
					for i, p := range prev[:len(cur)] {
						cur[i] += p
					}
				}
			case 3:
				if prev == nil {
					for i := bpp; i < len(cur); i++ {
						cur[i] += cur[i-bpp] / 2
					}
				} else {
					for i := range bpp {
						cur[i] += prev[i] / 2
					}
					for i := bpp; i < len(cur); i++ {
						cur[i] += uint8((int(cur[i-bpp]) + int(prev[i])) / 2)
					}
				}
			case 4:
				if prev == nil { // Paeth of a first row is Sub
					for i := bpp; i < len(cur); i++ {
						cur[i] += cur[i-bpp]
					}
				} else {
					paeth(cur, prev, bpp)
				}
			default:
				return false
			}
			prev = cur
			toRGB(out.Pix[((y*ys+yo)*out.W+xo)*3:], 3*xs, cur, pw, hdr, palette)
		}
	}
	return true
}

// paeth undoes the Paeth filter of cur, whose previous row is prev.
func paeth(cur, prev []byte, bpp int) {
	for i := range bpp {
		cur[i] += prev[i] // a = c = 0: the predictor is b
	}
	i := bpp
	switch {
	case usePaethAVX && (bpp == 3 || bpp == 4):
		i = paethAVX(cur, prev, bpp)
	case bpp == 3:
		paeth3(cur, prev)
		return
	}
	for ; i < len(cur); i++ {
		cur[i] += paethPredict(int(cur[i-bpp]), int(prev[i]), int(prev[i-bpp]))
	}
}

// paeth3 is paeth for 3 bytes a pixel, from the second pixel on, with
// the left and upper-left pixels kept in registers.
func paeth3(cur, prev []byte) {
	a0, a1, a2 := int(cur[0]), int(cur[1]), int(cur[2])
	c0, c1, c2 := int(prev[0]), int(prev[1]), int(prev[2])
	for i := 3; i+2 < len(cur); i += 3 {
		p := prev[i : i+3 : i+3]
		q := cur[i : i+3 : i+3]
		b0, b1, b2 := int(p[0]), int(p[1]), int(p[2])
		a0 = int(q[0] + paethPredict(a0, b0, c0))
		a1 = int(q[1] + paethPredict(a1, b1, c1))
		a2 = int(q[2] + paethPredict(a2, b2, c2))
		q[0], q[1], q[2] = uint8(a0), uint8(a1), uint8(a2)
		c0, c1, c2 = b0, b1, b2
	}
}

// paethPredict is the Paeth predictor of the left a, upper b and
// upper-left c samples, written to compile to conditional moves.
func paethPredict(a, b, c int) uint8 {
	pa, pb, pc := iabs(b-c), iabs(a-c), iabs(a+b-2*c)
	p, best := a, pa
	if pb < best {
		p, best = b, pb
	}
	if pc < best {
		p = c
	}
	return uint8(p)
}

func iabs(x int) int {
	s := x >> 63
	return (x ^ s) - s
}

// toRGB converts the unfiltered row src of w pixels to RGB at dst, whose
// pixels are step bytes apart.
func toRGB(dst []byte, step int, src []byte, w int, hdr pngIHDR, palette *[256][3]uint8) {
	switch {
	case hdr.depth == 8 && hdr.ctype == pngRGB && step == 3:
		copy(dst[:3*w], src[:3*w])
		return
	case hdr.depth < 8:
		d := uint(hdr.depth)
		mask := byte(1<<d - 1)
		scale := byte(0xff / mask) // grey: 1-bit ×255, 2-bit ×0x55, 4-bit ×0x11
		perByte := 8 / int(d)
		for x := range w {
			v := src[x/perByte] >> (8 - d*uint(x%perByte+1)) & mask
			o := dst[x*step : x*step+3 : x*step+3]
			if hdr.ctype == pngPalette {
				c := palette[v]
				o[0], o[1], o[2] = c[0], c[1], c[2]
			} else {
				v *= scale
				o[0], o[1], o[2] = v, v, v
			}
		}
		return
	}
	bytes := hdr.channels() * hdr.depth / 8 // per pixel
	hi := hdr.depth / 8                     // step between samples: their high bytes
	for x := range w {
		s := src[x*bytes : x*bytes+bytes : x*bytes+bytes]
		o := dst[x*step : x*step+3 : x*step+3]
		switch hdr.ctype {
		case pngGrey, pngGreyAlpha:
			o[0], o[1], o[2] = s[0], s[0], s[0]
		case pngPalette:
			c := palette[s[0]]
			o[0], o[1], o[2] = c[0], c[1], c[2]
		default: // RGB, RGBA
			o[0], o[1], o[2] = s[0], s[hi], s[2*hi]
		}
	}
}
