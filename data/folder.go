package data

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"golang.org/x/image/draw"

	"github.com/vitgo/vit/imageio"
)

// imageExts are the file suffixes LoadImageFolder reads (case-insensitive).
var imageExts = map[string]bool{
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true,
	".bmp": true, ".tif": true, ".tiff": true, ".webp": true,
}

// maxImagePixels bounds the size of one source image (decompression bombs).
const maxImagePixels = 1 << 26

// LoadImageFolder reads a directory of images laid out one sub-directory
// per class: root/<class>/**/*.png (or .jpg, .jpeg, .gif, .bmp, .tif,
// .tiff, .webp). Classes are the sub-directory names sorted; images are
// taken in lexical path order and hidden files are skipped.
//
// Every image is resized to height x width (Catmull-Rom, which averages
// when shrinking) and converted to channels = 1 (grey, ITU-R BT.601 luma)
// or 3 (RGB), giving [N, channels, height, width]. A zero channels,
// height or width is taken from the first image (channels 1 if it is
// grey, else 3). Errors name the file that could not be decoded.
func LoadImageFolder(root string, channels, height, width int) (*Dataset, error) {
	classes, files, labels, err := scanFolder(root)
	if err != nil {
		return nil, err
	}
	return decodeFolder(root, classes, files, labels, channels, height, width)
}

// scanFolder lists the class directories of root and their image files.
func scanFolder(root string) (classes, files []string, labels []int, err error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("data: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			classes = append(classes, e.Name())
		}
	}
	sort.Strings(classes)
	if len(classes) == 0 {
		return nil, nil, nil, fmt.Errorf("data: %s: no class sub-directories", root)
	}
	for label, c := range classes {
		err := filepath.WalkDir(filepath.Join(root, c), func(p string, e os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(e.Name(), ".") && p != filepath.Join(root, c) {
				if e.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !e.IsDir() && imageExts[strings.ToLower(filepath.Ext(p))] {
				files = append(files, p)
				labels = append(labels, label)
			}
			return nil
		})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("data: %w", err)
		}
	}
	if len(files) == 0 {
		return nil, nil, nil, fmt.Errorf("data: %s: no images (%s) in the class directories %s", root, extList(), strings.Join(classes, ", "))
	}
	return classes, files, labels, nil
}

func extList() string {
	var e []string
	for k := range imageExts {
		e = append(e, k)
	}
	sort.Strings(e)
	return strings.Join(e, " ")
}

// decodeImage reads and decodes one image file, refusing huge ones from
// their headers and reading no more than imageio.MaxImageBytes.
func decodeImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	img, _, err := imageio.Decoder{MaxPixels: maxImagePixels, MaxBytes: imageio.MaxImageBytes}.DecodeImage(f)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	return img, nil
}

func isGrey(img image.Image) bool {
	switch img.(type) {
	case *image.Gray, *image.Gray16:
		return true
	}
	return false
}

// decodeFolder decodes files in parallel into a Dataset.
func decodeFolder(root string, classes, files []string, labels []int, c, h, w int) (*Dataset, error) {
	if c == 0 || h == 0 || w == 0 {
		first, err := decodeImage(files[0])
		if err != nil {
			return nil, err
		}
		if c == 0 {
			c = 3
			if isGrey(first) {
				c = 1
			}
		}
		b := first.Bounds()
		if h == 0 {
			h = b.Dy()
		}
		if w == 0 {
			w = b.Dx()
		}
	}
	if c != 1 && c != 3 {
		return nil, fmt.Errorf("data: LoadImageFolder: channels = %d, want 1 or 3", c)
	}
	if h < 0 || w < 0 || int64(h)*int64(w) > maxImagePixels {
		return nil, fmt.Errorf("data: LoadImageFolder: size %dx%d out of range", w, h)
	}
	size := c * h * w
	d := &Dataset{
		Name:    root,
		Pixels:  make([]uint8, len(files)*size),
		Labels:  labels,
		N:       len(files),
		C:       c,
		H:       h,
		W:       w,
		Classes: classes,
	}
	errs := make([]error, len(files))
	var next sync.Mutex
	k := 0
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Go(func() {
			dst := image.NewRGBA(image.Rect(0, 0, w, h))
			for {
				next.Lock()
				i := k
				k++
				next.Unlock()
				if i >= len(files) {
					return
				}
				img, err := decodeImage(files[i])
				if err != nil {
					errs[i] = err
					continue
				}
				sb := img.Bounds()
				if sb.Dx() == w && sb.Dy() == h {
					draw.Draw(dst, dst.Bounds(), img, sb.Min, draw.Src)
				} else {
					draw.CatmullRom.Scale(dst, dst.Bounds(), img, sb, draw.Src, nil)
				}
				toPlanar(d.Pixels[i*size:(i+1)*size], dst, c)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return d, nil
}

// toPlanar writes src as [c, H, W] bytes: RGB planes, or BT.601 luma.
func toPlanar(out []uint8, src *image.RGBA, c int) {
	b := src.Bounds()
	hw := b.Dx() * b.Dy()
	for y := 0; y < b.Dy(); y++ {
		row := src.Pix[y*src.Stride : y*src.Stride+4*b.Dx()]
		for x := 0; x < b.Dx(); x++ {
			r, g, bl := uint32(row[4*x]), uint32(row[4*x+1]), uint32(row[4*x+2])
			o := y*b.Dx() + x
			if c == 1 {
				out[o] = uint8((19595*r + 38470*g + 7471*bl + 1<<15) >> 16)
			} else {
				out[o], out[hw+o], out[2*hw+o] = uint8(r), uint8(g), uint8(bl)
			}
		}
	}
}

// Split divides d into two stratified, deterministic parts: within each
// class, images are taken in dataset order and a fraction testFraction of
// them, evenly spread, goes to test; the rest go to train. Both share
// d.Classes.
func (d *Dataset) Split(testFraction float64) (train, test *Dataset) {
	seen := make([]int, len(d.Classes))
	var tr, te []int
	for i, l := range d.Labels {
		j := seen[l]
		seen[l]++
		if int(float64(j+1)*testFraction) > int(float64(j)*testFraction) {
			te = append(te, i)
		} else {
			tr = append(tr, i)
		}
	}
	return d.Subset(tr), d.Subset(te)
}
