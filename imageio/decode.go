package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	_ "image/jpeg" // register JPEG
	_ "image/png"  // register PNG
	"io"
	"os"

	_ "golang.org/x/image/bmp"  // register BMP
	_ "golang.org/x/image/tiff" // register TIFF
	_ "golang.org/x/image/webp" // register WebP
)

// DefaultMaxImagePixels is Pillow's Image.MAX_IMAGE_PIXELS,
// int(1024·1024·1024/4/3): about a quarter gigabyte for a 3-byte RGB image.
const DefaultMaxImagePixels = 89_478_485

// MaxImagePixels is the largest width×height that [Decode] and [Load]
// accept; zero or a negative value disables the check. Set it before
// decoding concurrently, or use a [Decoder] with its own limit.
var MaxImagePixels int64 = DefaultMaxImagePixels

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

// ErrFormat is returned (wrapped) for data in no registered image format.
var ErrFormat = image.ErrFormat

// A Decoder decodes images with its own pixel limit.
type Decoder struct {
	// MaxPixels is the largest width×height accepted; zero or negative
	// means no limit.
	MaxPixels int64
}

// Decode reads a PNG, JPEG, GIF, BMP, TIFF or WebP image from r and
// converts it to RGB as Pillow's Image.open(f).convert("RGB") does (see
// [FromImage]). Images larger than [MaxImagePixels] are refused with a
// [*TooLargeError] before their pixels are decoded.
func Decode(r io.Reader) (*RGB, error) {
	return Decoder{MaxPixels: MaxImagePixels}.Decode(r)
}

// Load reads and decodes the image file at path, like [Decode]. Errors
// name the file.
func Load(path string) (*RGB, error) {
	return Decoder{MaxPixels: MaxImagePixels}.Load(path)
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

func (d Decoder) decode(r io.Reader) (m *RGB, err error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	// The standard decoders are meant not to panic, but hostile input has
	// found such bugs before: never let one escape to the caller.
	defer func() {
		if p := recover(); p != nil {
			m, err = nil, fmt.Errorf("corrupt image: decoder panic: %v", p)
		}
	}()
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, describe(err, len(data))
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%s image has empty size %dx%d", format, cfg.Width, cfg.Height)
	}
	if d.MaxPixels > 0 && int64(cfg.Width)*int64(cfg.Height) > d.MaxPixels {
		return nil, &TooLargeError{Format: format, Width: cfg.Width, Height: cfg.Height, Limit: d.MaxPixels}
	}
	var img image.Image
	if format == "gif" {
		img, err = decodeGIF(data, cfg)
	} else {
		img, _, err = image.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", format, describe(err, len(data)))
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, fmt.Errorf("%s: decoded %dx%d, header says %dx%d", format, b.Dx(), b.Dy(), cfg.Width, cfg.Height)
	}
	return fromImage(img, format), nil
}

// describe names truncation, which the decoders report as a bare EOF.
func describe(err error, n int) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("truncated or corrupt image data (%d bytes): %w", n, err)
	}
	return err
}

// decodeGIF returns the first frame placed on the logical screen, as Pillow
// opens a GIF: the area the frame does not cover is left black (palette
// index 0 of a black palette entry in Pillow's usual case).
func decodeGIF(data []byte, cfg image.Config) (image.Image, error) {
	g, err := gif.DecodeAll(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if len(g.Image) == 0 {
		return nil, errors.New("no frames")
	}
	f := g.Image[0]
	if f.Bounds() == image.Rect(0, 0, cfg.Width, cfg.Height) {
		return f, nil
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
	return out.Image(), nil
}
