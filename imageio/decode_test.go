package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pngHeader returns a PNG whose IHDR declares w×h 8-bit RGB, followed by a
// tiny IDAT: a decompression bomb's header without the payload.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}

func TestDecompressionBomb(t *testing.T) {
	_, err := Decode(bytes.NewReader(pngHeader(100000, 100000)))
	var tl *TooLargeError
	if !errors.As(err, &tl) {
		t.Fatalf("got %v, want *TooLargeError", err)
	}
	if tl.Width != 100000 || tl.Limit != DefaultMaxImagePixels || !strings.Contains(err.Error(), "decompression bomb") {
		t.Errorf("error %v (%+v)", err, tl)
	}
	// Just above and at a custom limit, on a real file.
	d := Decoder{MaxPixels: 401*280 - 1}
	if _, err := d.Load("testdata/in/chelsea.png"); !errors.As(err, &tl) || !strings.Contains(err.Error(), "chelsea.png") {
		t.Errorf("limit-1: %v", err)
	}
	d.MaxPixels++
	if _, err := d.Load("testdata/in/chelsea.png"); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	if _, err := (Decoder{}).Load("testdata/in/chelsea.png"); err != nil {
		t.Errorf("no limit: %v", err)
	}
}

func TestCorruptInput(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"chelsea.png", "rocket.jpg", "small.gif", "small.bmp", "small.tif", "small_lossy.webp", "small_lossless.webp"} {
		data, err := os.ReadFile(filepath.Join("testdata/in", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{len(data) / 2, 40, 0} {
			p := filepath.Join(dir, "cut_"+name)
			if err := os.WriteFile(p, data[:n], 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p)
			if err == nil {
				t.Errorf("%s cut to %d bytes: no error", name, n)
			} else if !strings.Contains(err.Error(), p) {
				t.Errorf("%s: error does not name the file: %v", name, err)
			}
		}
	}
	if _, err := Decode(strings.NewReader("not an image at all")); !errors.Is(err, ErrFormat) {
		t.Errorf("garbage: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.png")); err == nil || !strings.Contains(err.Error(), "missing.png") {
		t.Errorf("missing file: %v", err)
	}
}

func TestConvertModes(t *testing.T) {
	// Alpha is dropped, not composited: Pillow's convert("RGB").
	n := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	n.SetNRGBA(0, 0, color.NRGBA{200, 100, 50, 0})
	n.SetNRGBA(1, 0, color.NRGBA{10, 20, 30, 128})
	var buf bytes.Buffer
	if err := png.Encode(&buf, n); err != nil {
		t.Fatal(err)
	}
	m, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint8{200, 100, 50, 10, 20, 30}; !bytes.Equal(m.Pix, want) {
		t.Errorf("RGBA: %v, want %v", m.Pix, want)
	}
	// Pillow's CMYK to RGB.
	c := image.NewCMYK(image.Rect(0, 0, 1, 1))
	c.SetCMYK(0, 0, color.CMYK{C: 255, M: 128, Y: 0, K: 64})
	if got := FromImage(c).Pix; !bytes.Equal(got, []uint8{0, 95, 191}) {
		t.Errorf("CMYK: %v", got)
	}
}

// TestDecodeBytes: DecodeBytes decodes every test image as Decode does,
// within and past the byte limit, and a PNG with data after it.
func TestDecodeBytes(t *testing.T) {
	files, err := filepath.Glob("testdata/in/*")
	if err != nil || len(files) < 10 {
		t.Fatalf("%d test images: %v", len(files), err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []Decoder{{}, {MaxBytes: int64(len(data))}, {MaxBytes: int64(len(data)) - 1}, {MaxPixels: 100}} {
			for _, in := range [][]byte{data, append(slices.Clip(data), "trailing bytes"...)} {
				m, err := d.Decode(bytes.NewReader(in))
				mb, errb := d.DecodeBytes(in)
				if fmt.Sprint(err) != fmt.Sprint(errb) || err == nil && (m.W != mb.W || m.H != mb.H || !bytes.Equal(m.Pix, mb.Pix)) {
					t.Errorf("%s (%d bytes), %+v: Decode %v, DecodeBytes %v", name, len(in), d, err, errb)
				}
			}
		}
	}
}

// FuzzDecode checks that no input makes the decoder panic and that a
// successful decode is consistent.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"small420.jpg", "small422.jpg", "small_cmyk.jpg", "small_grey.jpg", "small.gif", "small.bmp", "small.tif",
		"small_lossy.webp", "small_lossless.webp", "small_pal.png", "small_la.png", "small16.png", "small_rgba.png"} {
		data, err := os.ReadFile(filepath.Join("testdata/in", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(pngHeader(1<<20, 1<<20))
	f.Add(animatedGIF(f, 40, 30, 3))
	d := Decoder{MaxPixels: 1 << 20, MaxBytes: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := d.Decode(bytes.NewReader(data))
		mb, errb := d.DecodeBytes(data)
		if (err == nil) != (errb == nil) || err == nil && (m.W != mb.W || m.H != mb.H || !bytes.Equal(m.Pix, mb.Pix)) {
			t.Fatalf("Decode and DecodeBytes differ: %v, %v", err, errb)
		}
		if err != nil {
			return
		}
		if m.W <= 0 || m.H <= 0 || len(m.Pix) != m.W*m.H*3 || int64(m.W)*int64(m.H) > d.MaxPixels {
			t.Fatalf("bad image %dx%d, %d bytes", m.W, m.H, len(m.Pix))
		}
	})
}
