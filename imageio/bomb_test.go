package imageio

import (
	"bytes"
	"compress/lzw"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vitgo/vit/internal/memlimit"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// animatedGIF returns a GIF of frames frames, each a w×h black frame
// covering the logical screen. The frames compress to a few tens of
// kilobytes each; decoded, each takes w·h bytes.
func animatedGIF(t testing.TB, w, h, frames int) []byte {
	t.Helper()
	var lz bytes.Buffer
	zw := lzw.NewWriter(&lz, lzw.LSB, 2)
	zw.Write(make([]byte, w*h))
	zw.Close()
	var frame bytes.Buffer // image descriptor and sub-blocks
	frame.WriteByte(0x2c)
	binary.Write(&frame, binary.LittleEndian, [4]uint16{0, 0, uint16(w), uint16(h)})
	frame.Write([]byte{0, 2}) // no local palette; LZW minimum code size
	for b := lz.Bytes(); len(b) > 0; {
		n := min(len(b), 255)
		frame.WriteByte(byte(n))
		frame.Write(b[:n])
		b = b[n:]
	}
	frame.WriteByte(0)
	var g bytes.Buffer
	g.WriteString("GIF89a")
	binary.Write(&g, binary.LittleEndian, [2]uint16{uint16(w), uint16(h)})
	g.Write([]byte{0x80, 0, 0, 0, 0, 0, 255, 255, 255}) // a 2-entry global palette
	for range frames {
		g.Write(frame.Bytes())
	}
	g.WriteByte(0x3b)
	return g.Bytes()
}

// TestAnimatedGIFBomb decodes a GIF of 100 frames of 6000×6000 pixels
// (each under the pixel limit, 3.6 GB of frames in all, from a file of a
// few megabytes) under a 3 GiB address-space limit: only the first frame
// may be decoded.
func TestAnimatedGIFBomb(t *testing.T) {
	if !memlimit.Child(t, 3<<30) {
		return
	}
	data := animatedGIF(t, 6000, 6000, 100)
	t.Logf("the GIF is %.1f MB", float64(len(data))/1e6)
	m, err := Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if m.W != 6000 || m.H != 6000 || m.Pix[0] != 0 {
		t.Errorf("decoded %dx%d, first pixel %d", m.W, m.H, m.Pix[0])
	}
}

// TestFirstFrameOnly checks, on a small animation, that the first frame is
// the one returned.
func TestFirstFrameOnly(t *testing.T) {
	pal := color.Palette{color.Black, color.White}
	var frames []*image.Paletted
	for i := range 3 {
		f := image.NewPaletted(image.Rect(0, 0, 4, 4), pal)
		for j := range f.Pix {
			f.Pix[j] = uint8(i % 2)
		}
		frames = append(frames, f)
	}
	frames[0].Pix[0] = 1
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, &gif.GIF{Image: frames, Delay: []int{1, 1, 1}}); err != nil {
		t.Fatal(err)
	}
	m, err := Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Pix[0] != 255 || m.Pix[3] != 0 {
		t.Errorf("pixels %v, want the first frame's", m.Pix[:6])
	}
}

// endless is an io.Reader that never ends: prefix, then zeros.
type endless struct{ prefix []byte }

func (e *endless) Read(p []byte) (int, error) {
	n := copy(p, e.prefix)
	e.prefix = e.prefix[n:]
	clear(p[n:])
	return len(p), nil
}

// TestEndlessInput feeds streams without end: unknown bytes fail at once
// from the first bytes; a JPEG start (whose decoder skips junk between
// markers) is cut off at the byte limit.
func TestEndlessInput(t *testing.T) {
	if !memlimit.Child(t, 3<<30) {
		return
	}
	start := time.Now()
	_, err := Decode(&endless{})
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "00 00 00") {
		t.Errorf("zeros: %v", err)
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		_, err := Load("/dev/zero")
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "/dev/zero") {
			t.Errorf("/dev/zero: %v", err)
		}
	}
	d := Decoder{MaxPixels: DefaultMaxImagePixels, MaxBytes: 1 << 20}
	_, err = d.Decode(&endless{prefix: []byte("\xff\xd8")})
	if !errors.Is(err, ErrTooManyBytes) || !strings.Contains(err.Error(), "1048576") {
		t.Errorf("endless JPEG: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
	// A real image at and just under its size.
	b, err := os.ReadFile("testdata/in/chelsea.png")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (Decoder{MaxBytes: int64(len(b))}).Decode(bytes.NewReader(b)); err != nil {
		t.Errorf("at the byte limit: %v", err)
	}
	if _, err := (Decoder{MaxBytes: int64(len(b)) - 1}).Decode(bytes.NewReader(b)); !errors.Is(err, ErrTooManyBytes) {
		t.Errorf("one byte over the limit: %v", err)
	}
}

// encodings returns a small image in every format this package decodes.
func encodings(t testing.TB) map[string][]byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 6))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	out := map[string][]byte{}
	for name, enc := range map[string]func(io.Writer, image.Image) error{
		"png":  png.Encode,
		"jpeg": func(w io.Writer, m image.Image) error { return jpeg.Encode(w, m, nil) },
		"gif":  func(w io.Writer, m image.Image) error { return gif.Encode(w, m, nil) },
		"bmp":  bmp.Encode,
		"tiff": func(w io.Writer, m image.Image) error { return tiff.Encode(w, m, nil) },
	} {
		var b bytes.Buffer
		if err := enc(&b, img); err != nil {
			t.Fatal(err)
		}
		out[name] = b.Bytes()
	}
	b, err := os.ReadFile(filepath.Join("testdata/in", "small_lossy.webp"))
	if err != nil {
		t.Fatal(err)
	}
	out["webp"] = b
	return out
}

// bigHeader rewrites the size in the header of an image of format name to
// (at least) 60000×60000 pixels, leaving its pixel data as it was.
func bigHeader(t testing.TB, name string, b []byte) []byte {
	t.Helper()
	b = bytes.Clone(b)
	switch name {
	case "png":
		binary.BigEndian.PutUint32(b[16:], 60000)
		binary.BigEndian.PutUint32(b[20:], 60000)
		binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	case "gif":
		binary.LittleEndian.PutUint16(b[6:], 60000)
		binary.LittleEndian.PutUint16(b[8:], 60000)
	case "bmp":
		binary.LittleEndian.PutUint32(b[18:], 60000)
		binary.LittleEndian.PutUint32(b[22:], 60000)
	case "jpeg":
		i := bytes.Index(b, []byte{0xff, 0xc0})
		binary.BigEndian.PutUint16(b[i+5:], 60000)
		binary.BigEndian.PutUint16(b[i+7:], 60000)
	case "webp":
		if string(b[12:16]) != "VP8 " {
			t.Fatalf("%s is not a simple lossy WebP", name)
		}
		binary.LittleEndian.PutUint16(b[26:], 16000)
		binary.LittleEndian.PutUint16(b[28:], 16000)
	case "tiff":
		ifd := binary.LittleEndian.Uint32(b[4:])
		n := int(binary.LittleEndian.Uint16(b[ifd:]))
		for e := range n {
			p := int(ifd) + 2 + 12*e
			if tag := binary.LittleEndian.Uint16(b[p:]); tag == 256 || tag == 257 {
				if typ := binary.LittleEndian.Uint16(b[p+2:]); typ == 3 {
					binary.LittleEndian.PutUint16(b[p+8:], 60000)
				} else {
					binary.LittleEndian.PutUint32(b[p+8:], 60000)
				}
			}
		}
	}
	return b
}

// TestPixelLimitEveryFormat refuses, in every format, an image whose
// header declares more pixels than the limit, from its header alone.
func TestPixelLimitEveryFormat(t *testing.T) {
	for name, b := range encodings(t) {
		m, err := Decode(bytes.NewReader(b))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		small := Decoder{MaxPixels: int64(m.W*m.H) - 1}
		var tl *TooLargeError
		if _, err := small.Decode(bytes.NewReader(b)); !errors.As(err, &tl) || tl.Format != name {
			t.Errorf("%s one pixel over the limit: %v", name, err)
		}
		if _, err := Decode(bytes.NewReader(bigHeader(t, name, b))); !errors.As(err, &tl) || tl.Format != name {
			t.Errorf("%s header of 60000×60000: %v", name, err)
		}
	}
}

// FuzzResize resizes a small image to random sizes with every filter: no
// panic, the size asked for, and a flat image stays flat (the filters'
// weights sum to one).
func FuzzResize(f *testing.F) {
	f.Add(uint8(4), uint8(3), uint16(7), uint16(5), uint8(3), uint8(128), []byte{1, 2, 3})
	f.Add(uint8(1), uint8(1), uint16(300), uint16(1), uint8(1), uint8(0), []byte{})
	f.Add(uint8(255), uint8(2), uint16(1), uint16(1), uint8(4), uint8(255), []byte{9})
	f.Fuzz(func(t *testing.T, sw, sh uint8, w, h uint16, filter, level uint8, noise []byte) {
		sw, sh = max(sw, 1), max(sh, 1)
		w, h = w%1024+1, h%1024+1
		src := NewRGB(int(sw), int(sh))
		for i := range src.Pix {
			src.Pix[i] = level
		}
		flat := Resize(src, int(w), int(h), Filter(filter%6))
		if flat.W != int(w) || flat.H != int(h) || len(flat.Pix) != int(w)*int(h)*3 {
			t.Fatalf("%dx%d to %dx%d: got %dx%d, %d bytes", sw, sh, w, h, flat.W, flat.H, len(flat.Pix))
		}
		for i, v := range flat.Pix {
			if d := int(v) - int(level); d < -1 || d > 1 {
				t.Fatalf("flat %d resized with %v: pixel %d is %d", level, Filter(filter%6), i, v)
			}
		}
		for i := range src.Pix {
			if len(noise) > 0 {
				src.Pix[i] = noise[i%len(noise)]
			}
		}
		if m := Resize(src, int(w), int(h), Filter(filter%6)); len(m.Pix) != int(w)*int(h)*3 {
			t.Fatalf("noise: %d bytes", len(m.Pix))
		}
	})
}
