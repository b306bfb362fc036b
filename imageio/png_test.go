package imageio

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// testPNG describes a PNG file to write: any colour type, bit depth,
// interlacing, palette and tRNS, with each row's filter type chosen in
// turn and the zlib stream split into IDAT chunks of idat bytes.
type testPNG struct {
	w, h, depth, ctype int
	interlaced         bool
	plte, trns         []byte // chunk data, nil for none
	level              int    // zlib level
	idat               int    // bytes per IDAT chunk, 0 for one chunk
	filters            []byte // filter types, cycled over the rows
}

// chunk appends a PNG chunk.
func chunk(b []byte, typ string, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	start := len(b)
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

// encode writes the PNG of random pixels (seeded) and returns it.
func (t testPNG) encode(seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	hdr := pngIHDR{w: t.w, h: t.h, depth: t.depth, ctype: t.ctype, interlaced: t.interlaced}
	bpp := max(1, hdr.channels()*hdr.depth/8)
	var raw []byte
	row := 0
	for _, s := range hdr.passes() {
		if s[0] == 0 || s[1] == 0 {
			continue
		}
		n := hdr.rowBytes(s[0]) - 1
		var prev []byte
		for range s[1] {
			cur := make([]byte, n)
			for i := range cur {
				cur[i] = byte(r.UintN(256))
			}
			if r.IntN(4) == 0 && n > 2*bpp { // runs, so that matches are long
				copy(cur[bpp:], cur[:n-bpp])
			}
			ft := byte(0)
			if len(t.filters) > 0 {
				ft = t.filters[row%len(t.filters)]
			}
			row++
			raw = append(raw, ft)
			raw = append(raw, filterRow(ft, cur, prev, bpp)...)
			prev = cur
		}
	}
	var z bytes.Buffer
	zw, err := zlib.NewWriterLevel(&z, t.level)
	if err != nil {
		panic(err)
	}
	zw.Write(raw)
	zw.Close()
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, uint32(t.w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(t.h))
	ihdr[8], ihdr[9] = byte(t.depth), byte(t.ctype)
	if t.interlaced {
		ihdr[12] = 1
	}
	b := []byte("\x89PNG\r\n\x1a\n")
	b = chunk(b, "IHDR", ihdr)
	b = chunk(b, "tEXt", []byte("Comment\x00made by the imageio tests"))
	if t.plte != nil {
		b = chunk(b, "PLTE", t.plte)
	}
	if t.trns != nil {
		b = chunk(b, "tRNS", t.trns)
	}
	data := z.Bytes()
	for len(data) > 0 {
		n := len(data)
		if t.idat > 0 {
			n = min(n, t.idat)
		}
		b = chunk(b, "IDAT", data[:n])
		data = data[n:]
	}
	return chunk(b, "IEND", nil)
}

// filterRow applies PNG filter ft to the row cur (prev: the row above,
// nil for the first).
func filterRow(ft byte, cur, prev []byte, bpp int) []byte {
	out := make([]byte, len(cur))
	at := func(s []byte, i int) int {
		if s == nil || i < 0 {
			return 0
		}
		return int(s[i])
	}
	for i := range cur {
		a, b, c := at(cur, i-bpp), at(prev, i), at(prev, i-bpp)
		var p int
		switch ft {
		case 1:
			p = a
		case 2:
			p = b
		case 3:
			p = (a + b) / 2
		case 4:
			p = int(paethPredict(a, b, c))
		}
		out[i] = cur[i] - byte(p)
	}
	return out
}

// pngKinds are the valid colour type and bit depth pairs.
var pngKinds = [][2]int{{pngGrey, 1}, {pngGrey, 2}, {pngGrey, 4}, {pngGrey, 8}, {pngGrey, 16},
	{pngRGB, 8}, {pngRGB, 16}, {pngPalette, 1}, {pngPalette, 2}, {pngPalette, 4}, {pngPalette, 8},
	{pngGreyAlpha, 8}, {pngGreyAlpha, 16}, {pngRGBA, 8}, {pngRGBA, 16}}

// generatedPNGs are files of every colour type and bit depth, plain and
// interlaced, with and without tRNS, odd sizes, every filter type, one or
// many IDAT chunks, stored and compressed.
func generatedPNGs() map[string][]byte {
	out := map[string][]byte{}
	sizes := [][2]int{{1, 1}, {3, 2}, {13, 7}, {37, 29}}
	for k, kind := range pngKinds {
		for si, size := range sizes {
			for _, interlaced := range []bool{false, true} {
				for _, withTRNS := range []bool{false, true} {
					t := testPNG{w: size[0], h: size[1], ctype: kind[0], depth: kind[1], interlaced: interlaced,
						level:   []int{zlib.NoCompression, zlib.BestSpeed, zlib.DefaultCompression, zlib.BestCompression}[si],
						filters: []byte{0, 1, 2, 3, 4}, idat: []int{0, 7, 100, 0}[si]}
					if kind[0] == pngPalette {
						n := min(1<<kind[1], 5+k) // a short palette: indices past it are black
						for i := range 3 * n {
							t.plte = append(t.plte, byte(i*37+11))
						}
					}
					if withTRNS {
						switch kind[0] {
						case pngGrey:
							t.trns = []byte{0, 1}
						case pngRGB:
							t.trns = []byte{0, 1, 0, 2, 0, 3}
						case pngPalette:
							t.trns = []byte{0, 128, 255}
						default:
							continue // no tRNS for types with alpha
						}
					}
					name := fmt.Sprintf("ct%d-d%d-%dx%d-i%v-t%v", kind[0], kind[1], size[0], size[1], interlaced, withTRNS)
					out[name] = t.encode(uint64(len(out)))
				}
			}
		}
	}
	return out
}

// stdlibRGB decodes data with image/png and converts it as Decode did
// before the fast path.
func stdlibRGB(data []byte) (*RGB, error) {
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return fromImage(img, "png"), nil
}

// TestPNGFastPath: every PNG, of every colour type and bit depth, the
// photographs and the files the tests write, is decoded by the fast path
// (never handed to image/png) to exactly image/png's pixels.
func TestPNGFastPath(t *testing.T) {
	files := generatedPNGs()
	photos, _ := filepath.Glob("testdata/in/*.png")
	if len(photos) < 5 {
		t.Fatalf("only %d PNG files in testdata/in", len(photos))
	}
	for _, p := range photos {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(p)] = b
	}
	for name, data := range files {
		want, err := stdlibRGB(data)
		if err != nil {
			t.Fatalf("%s: image/png: %v", name, err)
		}
		got, err := decodePNG(data, 0)
		if err != nil {
			t.Errorf("%s: the fast path refused it", name)
			continue
		}
		if got.W != want.W || got.H != want.H || !bytes.Equal(got.Pix, want.Pix) {
			t.Errorf("%s: the fast path's pixels differ from image/png's", name)
		}
		// And through Decode, which takes the fast path.
		if m, err := Decode(bytes.NewReader(data)); err != nil || !bytes.Equal(m.Pix, want.Pix) {
			t.Errorf("%s: Decode: %v", name, err)
		}
		if img, rgb, _, err := defaultDecoder().decodeImage(bytes.NewReader(data), nil, true); err != nil || rgb == nil || img != nil {
			t.Errorf("%s: Decode did not take the fast path (%v)", name, err)
		}
	}
}

// TestPNGFastPathRefuses: broken files are refused by the fast path and
// then by image/png too, so Decode's errors are image/png's.
func TestPNGFastPathRefuses(t *testing.T) {
	good := testPNG{w: 9, h: 5, ctype: pngRGB, depth: 8, level: 6, filters: []byte{4, 1}}.encode(1)
	idat := bytes.Index(good, []byte("IDAT"))
	iend := bytes.Index(good, []byte("IEND"))
	cases := map[string][]byte{
		"bad CRC":         flip(good, 30),
		"bad zlib data":   flip(good, idat+10),
		"bad adler":       flip(good, iend-8-4-1),
		"truncated":       good[:len(good)-20],
		"no IEND":         good[:iend-4],
		"bad filter type": testPNG{w: 9, h: 5, ctype: pngRGB, depth: 8, level: 6, filters: []byte{4, 5}}.encode(1),
		"palette no PLTE": testPNG{w: 4, h: 4, ctype: pngPalette, depth: 8, level: 6}.encode(1),
		"PLTE for grey":   testPNG{w: 4, h: 4, ctype: pngGrey, depth: 8, level: 6, plte: []byte{1, 2, 3}}.encode(1),
		"bad tRNS length": testPNG{w: 4, h: 4, ctype: pngRGB, depth: 8, level: 6, trns: []byte{1, 2}}.encode(1),
		"tRNS with alpha": testPNG{w: 4, h: 4, ctype: pngRGBA, depth: 8, level: 6, trns: []byte{0, 1}}.encode(1),
		"PLTE too long":   testPNG{w: 4, h: 4, ctype: pngPalette, depth: 1, level: 6, plte: make([]byte, 9)}.encode(1),
	}
	// image/png takes bytes after the zlib stream in the last IDAT chunk
	// when its read-ahead swallowed them; the fast path leaves such files
	// to it.
	lenient := appendToIDAT(good, []byte{0})
	if _, err := decodePNG(lenient, 0); err == nil {
		t.Errorf("the fast path decoded a stream followed by more bytes")
	}
	if m, err := Decode(bytes.NewReader(lenient)); err != nil || m.W != 9 {
		t.Errorf("Decode of a stream followed by a byte: %v", err)
	}
	for name, data := range cases {
		if _, err := decodePNG(data, 0); err == nil {
			t.Errorf("%s: the fast path decoded it", name)
		}
		_, stdErr := png.Decode(bytes.NewReader(data))
		_, err := Decode(bytes.NewReader(data))
		if (err == nil) != (stdErr == nil) {
			t.Errorf("%s: Decode: %v; image/png: %v", name, err, stdErr)
		}
		if stdErr == nil {
			t.Errorf("%s: image/png decoded it: the case is not broken", name)
		}
	}
	if _, err := decodePNG(good, 44); err == nil {
		t.Errorf("a 9x5 image decoded under a limit of 44 pixels")
	}
}

// TestPNGOverFastBound: a PNG file larger than the fast path's bound (here
// by a large metadata chunk) is streamed to image/png, with the same
// pixels.
func TestPNGOverFastBound(t *testing.T) {
	good := testPNG{w: 9, h: 5, ctype: pngRGB, depth: 8, level: 6, filters: []byte{4, 1}}.encode(1)
	i := bytes.Index(good, []byte("IDAT")) - 4
	big := chunk(bytes.Clone(good[:i]), "zTXt", make([]byte, pngFastBytes(9, 5)))
	big = append(big, good[i:]...)
	want, err := stdlibRGB(good)
	if err != nil {
		t.Fatal(err)
	}
	img, rgb, _, err := defaultDecoder().decodeImage(bytes.NewReader(big), nil, true)
	if err != nil || rgb != nil || img == nil {
		t.Fatalf("a file over the bound: rgb %v, img %v, %v; want image/png's image", rgb != nil, img != nil, err)
	}
	if m, err := Decode(bytes.NewReader(big)); err != nil || !bytes.Equal(m.Pix, want.Pix) {
		t.Errorf("Decode of a file over the bound: %v", err)
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x40
	return c
}

// appendToIDAT rewrites the last IDAT chunk of a file with extra bytes.
func appendToIDAT(b, extra []byte) []byte {
	i := bytes.LastIndex(b, []byte("IDAT")) - 4
	n := int(binary.BigEndian.Uint32(b[i:]))
	data := append(bytes.Clone(b[i+8:i+8+n]), extra...)
	out := chunk(bytes.Clone(b[:i]), "IDAT", data)
	return append(out, b[i+12+n:]...)
}

// FuzzPNG compares the fast path with image/png on any bytes: whatever it
// decodes, image/png decodes to the same pixels.
func FuzzPNG(f *testing.F) {
	for _, b := range generatedPNGs() {
		if len(b) < 2000 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := png.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width*cfg.Height > 1<<20 {
			return
		}
		got, err := decodePNG(data, 1<<20)
		if err != nil {
			return // image/png decides
		}
		want, err := stdlibRGB(data)
		if err != nil {
			t.Fatalf("the fast path decoded what image/png refuses (%v)", err)
		}
		if got.W != want.W || got.H != want.H || !bytes.Equal(got.Pix, want.Pix) {
			t.Fatalf("the fast path's pixels differ from image/png's")
		}
	})
}
