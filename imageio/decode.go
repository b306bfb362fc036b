package imageio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"os"
	"strings"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// DefaultMaxImagePixels is Pillow's Image.MAX_IMAGE_PIXELS,
// int(1024·1024·1024/4/3): about a quarter gigabyte for a 3-byte RGB image.
const DefaultMaxImagePixels = 89_478_485

// DefaultMaxImageBytes is the default limit on the encoded size of an
// image, 256 MiB: far above any photograph, and small enough that a stream
// without end (/dev/zero, a pipe) is refused within a second or two.
const DefaultMaxImageBytes = 256 << 20

// MaxImagePixels is the largest width×height that [Decode] and [Load]
// accept; zero or a negative value disables the check. Set it before
// decoding concurrently, or use a [Decoder] with its own limit.
var MaxImagePixels int64 = DefaultMaxImagePixels

// MaxImageBytes is the largest encoded image, in bytes, that [Decode] and
// [Load] read; zero or a negative value disables the check. Set it before
// decoding concurrently, or use a [Decoder] with its own limit.
var MaxImageBytes int64 = DefaultMaxImageBytes

// TooLargeError reports an image whose header declares more pixels than the
// decoder's limit: a possible decompression bomb. No pixel data was decoded.
type TooLargeError struct {
	Format        string
	Width, Height int
	Limit         int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("image is %dx%d = %d pixels, over the limit of %d (possible decompression bomb; raise imageio.MaxImagePixels or Decoder.MaxPixels to allow it)",
		e.Width, e.Height, int64(e.Width)*int64(e.Height), e.Limit)
}

// ErrFormat is returned (wrapped) for data in no supported image format.
var ErrFormat = image.ErrFormat

// ErrTooManyBytes is returned (wrapped) when the encoded image goes on past
// the decoder's byte limit.
var ErrTooManyBytes = errors.New("image data over the byte limit")

// A Decoder decodes images with its own limits. The zero Decoder has no
// limits; [Decode] and [Load] use [MaxImagePixels] and [MaxImageBytes].
type Decoder struct {
	// MaxPixels is the largest width×height accepted, checked from the
	// image's header before any pixel is decoded; zero or negative means
	// no limit.
	MaxPixels int64
	// MaxBytes is the most bytes read from the input; an image whose
	// encoding is longer is refused. Zero or negative means no limit.
	MaxBytes int64
}

// defaultDecoder is the Decoder of the package-level functions.
func defaultDecoder() Decoder {
	return Decoder{MaxPixels: MaxImagePixels, MaxBytes: MaxImageBytes}
}

// Decode reads a PNG, JPEG, GIF, BMP, TIFF or WebP image from r and
// converts it to RGB as Pillow's Image.open(f).convert("RGB") does (see
// [FromImage]). The format is told from the first bytes; images larger than
// [MaxImagePixels] are refused with a [*TooLargeError] before their pixels
// are decoded, and no more than [MaxImageBytes] bytes are read from r. Of
// an animated GIF only the first frame is decoded.
func Decode(r io.Reader) (*RGB, error) {
	return defaultDecoder().Decode(r)
}

// Load reads and decodes the image file at path, like [Decode]. Errors
// name the file.
func Load(path string) (*RGB, error) {
	return defaultDecoder().Load(path)
}

// Load reads and decodes the image file at path. Errors name the file.
func (d Decoder) Load(path string) (*RGB, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("imageio: %w", err)
	}
	defer f.Close()
	m, err := d.decode(f)
	if err != nil {
		return nil, fmt.Errorf("imageio: %s: %w", path, err)
	}
	return m, nil
}

// Decode reads an image from r and converts it to RGB. See [Decode].
func (d Decoder) Decode(r io.Reader) (*RGB, error) {
	m, err := d.decode(r)
	if err != nil {
		return nil, fmt.Errorf("imageio: %w", err)
	}
	return m, nil
}

// DecodeImage reads an image from r, with d's limits, and returns it as
// the format's decoder made it (of an animated GIF, the first frame placed
// on the logical screen) with the format's name: "png", "jpeg", "gif",
// "bmp", "tiff" or "webp".
func (d Decoder) DecodeImage(r io.Reader) (image.Image, string, error) {
	img, _, f, err := d.decodeImage(r, nil, false)
	if err != nil {
		return nil, "", fmt.Errorf("imageio: %w", err)
	}
	return img, f, nil
}

// DecodeBytes decodes the image held whole in data and converts it to
// RGB, as Decode does; a PNG within the fast path's bound is decoded from
// data in place, without the copies that reading it through an io.Reader
// takes.
func (d Decoder) DecodeBytes(data []byte) (*RGB, error) {
	m, err := d.decodeWhole(bytes.NewReader(data), data)
	if err != nil {
		return nil, fmt.Errorf("imageio: %w", err)
	}
	return m, nil
}

func (d Decoder) decode(r io.Reader) (*RGB, error) {
	return d.decodeWhole(r, nil)
}

// decodeWhole decodes r, whose bytes are whole when not nil.
func (d Decoder) decodeWhole(r io.Reader, whole []byte) (*RGB, error) {
	img, rgb, format, err := d.decodeImage(r, whole, true)
	if err != nil {
		return nil, err
	}
	if rgb != nil {
		return rgb, nil
	}
	return fromImage(img, format), nil
}

// format is one image format this package decodes.
type format struct {
	name   string
	magic  string // the first bytes; '?' matches any byte
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

// formats are told apart by their first bytes, as image.Decode does, but
// only these are decoded, whatever other packages register with package
// image.
var formats = []format{
	{"png", "\x89PNG\r\n\x1a\n", png.DecodeConfig, png.Decode},
	{"jpeg", "\xff\xd8", jpeg.DecodeConfig, jpeg.Decode},
	{"gif", "GIF8?a", gif.DecodeConfig, gif.Decode}, // gif.Decode: the first frame only
	{"bmp", "BM????\x00\x00\x00\x00", bmp.DecodeConfig, bmp.Decode},
	{"tiff", "II*\x00", tiff.DecodeConfig, tiff.Decode},
	{"tiff", "MM\x00*", tiff.DecodeConfig, tiff.Decode},
	{"webp", "RIFF????WEBPVP8", webp.DecodeConfig, webp.Decode},
}

// sniffLen is the longest magic string.
const sniffLen = 15

// SniffLen is how many first bytes of a file [Sniff] needs.
const SniffLen = sniffLen

// Sniff returns the name of the image format ("png", "jpeg", "gif",
// "bmp", "tiff" or "webp") whose magic number head starts with, as Decode
// tells formats apart, or "" when head starts none of them. head holds a
// file's first bytes, SniffLen of them where the file has as many.
func Sniff(head []byte) string {
	if f := sniff(head); f != nil {
		return f.name
	}
	return ""
}

// sniff returns the format whose magic string head starts with.
func sniff(head []byte) *format {
	for i := range formats {
		f := &formats[i]
		if len(head) < len(f.magic) {
			continue
		}
		ok := true
		for j := range len(f.magic) {
			if f.magic[j] != '?' && f.magic[j] != head[j] {
				ok = false
				break
			}
		}
		if ok {
			return f
		}
	}
	return nil
}

// decodeImage reads the header, checks the limits, then decodes. The input
// is streamed, not read whole: the bytes the header decoder read are
// replayed to the image decoder, so memory is that of the image. With
// wantRGB, a PNG of at most [pngFastBytes] bytes is read whole and
// decoded straight to RGB by decodePNG (returned as rgb; img is then nil).
// decodeImage decodes r, whose bytes are whole when not nil.
func (d Decoder) decodeImage(r io.Reader, whole []byte, wantRGB bool) (img image.Image, rgb *RGB, name string, err error) {
	limit := d.MaxBytes
	if limit <= 0 {
		limit = math.MaxInt64
	}
	lr := &limitedReader{r: r, left: limit}
	br := bufio.NewReaderSize(lr, 64<<10)
	head, err := br.Peek(sniffLen)
	if err != nil && err != io.EOF && !errors.Is(err, ErrTooManyBytes) {
		return nil, nil, "", err
	}
	f := sniff(head)
	if f == nil {
		if len(head) == 0 {
			return nil, nil, "", fmt.Errorf("empty input: %w", ErrFormat)
		}
		return nil, nil, "", fmt.Errorf("not a PNG, JPEG, GIF, BMP, TIFF or WebP image (it starts with % x): %w", head[:min(len(head), 8)], ErrFormat)
	}
	// The standard decoders are meant not to panic, but hostile input has
	// found such bugs before: never let one escape to the caller.
	defer func() {
		if p := recover(); p != nil {
			img, rgb, name, err = nil, nil, "", fmt.Errorf("corrupt %s image: decoder panic: %v", f.name, p)
		}
		if lr.over {
			img, rgb, name, err = nil, nil, "", fmt.Errorf("%s image data goes on past %d bytes: %w (raise imageio.MaxImageBytes or Decoder.MaxBytes to allow it)", f.name, d.MaxBytes, ErrTooManyBytes)
		}
	}()
	rec := &recorder{r: br}
	cfg, err := f.config(rec)
	if err != nil {
		return nil, nil, "", describe(f.name, err, lr.read)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, nil, "", fmt.Errorf("%s image has empty size %dx%d", f.name, cfg.Width, cfg.Height)
	}
	if d.MaxPixels > 0 && int64(cfg.Width)*int64(cfg.Height) > d.MaxPixels {
		return nil, nil, "", &TooLargeError{Format: f.name, Width: cfg.Width, Height: cfg.Height, Limit: d.MaxPixels}
	}
	seen := rec.buf
	rec.buf = nil
	if wantRGB && f.name == "png" {
		// Read on up to the fast path's bound, never past the byte
		// limit (so that a PNG followed by more data is not refused for
		// what image/png would not have read). When the bytes are all in
		// whole, take them from there.
		bound := pngFastBytes(cfg.Width, cfg.Height)
		if whole != nil {
			seen = whole[:min(int64(len(whole)), bound+1, lr.left+lr.read)]
			r = bytes.NewReader(whole[len(seen):])
			lr.r, lr.left, lr.read = r, lr.left+lr.read-int64(len(seen)), int64(len(seen))
			br.Reset(lr)
		} else {
			n := min(bound+1-int64(len(seen)), lr.left+int64(br.Buffered()))
			all, err := io.ReadAll(io.LimitReader(br, max(n, 0)))
			if err != nil {
				return nil, nil, "", describe(f.name, err, lr.read)
			}
			seen = append(seen, all...)
		}
		if int64(len(seen)) <= bound {
			if m := tryPNG(seen, d.MaxPixels); m != nil {
				return nil, m, f.name, nil
			}
		}
		// Too large for the fast path, or refused by it: image/png
		// decides.
	}
	img, err = f.decode(io.MultiReader(bytes.NewReader(seen), br))
	if err != nil {
		return nil, nil, "", describe(f.name, err, lr.read)
	}
	if f.name == "gif" {
		return onScreen(img, cfg), nil, f.name, nil
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, nil, "", fmt.Errorf("%s: decoded %dx%d, header says %dx%d", f.name, b.Dx(), b.Dy(), cfg.Width, cfg.Height)
	}
	return img, nil, f.name, nil
}

// tryPNG decodes data with the PNG fast path, or returns nil for
// image/png to decode it: when the fast path refuses the file, and, should
// it ever panic, then too.
func tryPNG(data []byte, maxPixels int64) (m *RGB) {
	defer func() {
		if recover() != nil {
			m = nil
		}
	}()
	m, err := decodePNG(data, maxPixels)
	if err != nil {
		return nil
	}
	return m
}

// pngFastBytes is the largest PNG file of w×h pixels decoded by the fast
// path (decodePNG), which holds the whole file in memory: 4 bytes a pixel,
// more than any photograph compresses to, and 1 MiB for metadata. Larger
// files are streamed to image/png.
func pngFastBytes(w, h int) int64 {
	return 4*int64(w)*int64(h) + 1<<20
}

// limitedReader reads at most left bytes from r; a read past them fails
// with ErrTooManyBytes (and sets over) when r has more.
type limitedReader struct {
	r    io.Reader
	left int64
	read int64
	over bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		var one [1]byte
		if n, err := io.ReadFull(l.r, one[:]); n > 0 {
			l.over = true
			return 0, ErrTooManyBytes
		} else if err == io.ErrUnexpectedEOF {
			err = io.EOF
		} else if err != nil {
			return 0, err
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	l.read += int64(n)
	return n, err
}

// recorder keeps a copy of what is read through it.
type recorder struct {
	r   io.Reader
	buf []byte
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.buf = append(r.buf, p[:n]...)
	return n, err
}

// describe names the format and truncation, which the decoders report as a
// bare EOF.
func describe(format string, err error, n int64) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: truncated or corrupt image data (%d bytes): %w", format, n, err)
	}
	if strings.Contains(strings.ToLower(err.Error()), format) {
		return err // the decoder's errors name the format already
	}
	return fmt.Errorf("%s: %w", format, err)
}

// onScreen returns a GIF's first frame f placed on the logical screen of
// cfg, as Pillow opens a GIF: the area the frame does not cover is left
// black (palette index 0 of a black palette entry in Pillow's usual case).
func onScreen(f image.Image, cfg image.Config) image.Image {
	if f.Bounds() == image.Rect(0, 0, cfg.Width, cfg.Height) {
		return f
	}
	out := NewRGB(cfg.Width, cfg.Height)
	fr := fromImage(f, "gif")
	fb := f.Bounds()
	for y := 0; y < fr.H; y++ {
		ty := fb.Min.Y + y
		if ty < 0 || ty >= cfg.Height {
			continue
		}
		for x := 0; x < fr.W; x++ {
			tx := fb.Min.X + x
			if tx < 0 || tx >= cfg.Width {
				continue
			}
			copy(out.Pix[(ty*cfg.Width+tx)*3:][:3], fr.Pix[(y*fr.W+x)*3:])
		}
	}
	return out.Image()
}
