package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/imageio"
	"github.com/vitgo/vit/viz"
)

// preprocessor returns how images are prepared for a model with config c
// (see viz.Preprocessor).
func preprocessor(c vit.Config) (imageio.Preprocessor, error) {
	p, err := viz.Preprocessor(c)
	if err != nil {
		return nil, fmt.Errorf("model config: %w", err)
	}
	return p, nil
}

// loadImage decodes the image at path and prepares it for the model:
// [channels, height, width], normalised. Grey models get Pillow's "L"
// conversion before the pipeline. An image that does not fit the model
// goes to warn as name.
func loadImage(path, name string, c vit.Config, p imageio.Preprocessor, warn *fitWarner) ([]float32, error) {
	img, err := imageio.Load(path)
	if err != nil {
		return nil, err
	}
	warn.check(name, img)
	if c.Channels == 1 {
		img.ToLuma()
	}
	x, err := p.Preprocess(img)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.Channels == 1 {
		x = x[:c.ImageHeight*c.ImageWidth]
	}
	return x, nil
}

// imageBatches reads files in order, prepares each for the model and calls
// run with full batches: x [n, channels, height, width] and the n file
// names. A file that cannot be read goes to bad, after the images before it
// have been run, so results stay in input order.
// Images that do not fit the model are warned about on warn.
func imageBatches(in *imageArgs, c vit.Config, batch int, warn *fitWarner, run func(x []float32, names []string) error, bad func(file string, err error)) error {
	files := in.files
	p, err := preprocessor(c)
	if err != nil {
		return err
	}
	x := make([]float32, 0, batch*c.Channels*c.ImageHeight*c.ImageWidth)
	var names []string
	flush := func() error {
		if len(names) == 0 {
			return nil
		}
		err := run(x, names)
		x, names = x[:0], names[:0]
		return err
	}
	for _, f := range files {
		img, err := loadImage(in.path(f), f, c, p, warn)
		if err != nil {
			if err := flush(); err != nil {
				return err
			}
			bad(f, in.describe(err))
			continue
		}
		x = append(x, img...)
		names = append(names, f)
		if len(names) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// imageExts are the file types predict, embed and attention read from folders.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".bmp": true, ".tif": true, ".tiff": true, ".webp": true}

// maxStdinImage is the most bytes an image read from stdin may have.
const maxStdinImage = 1 << 30

// imageArgs are the images named on a command line: files, folders (walked
// for image files, sorted) and "-", one image read from stdin.
type imageArgs struct {
	files []string // in order; "-" for stdin
	stdin string   // a temporary copy of stdin's image, when "-" is named
}

// readImageArgs expands args into image files, copying stdin into a
// temporary file when "-" is among them. Call close when done.
func readImageArgs(args []string, stdin io.Reader) (*imageArgs, error) {
	in := &imageArgs{}
	for _, a := range args {
		if a == "-" {
			if in.stdin != "" {
				return nil, usageErrorf("- (stdin) named twice: stdin holds one image")
			}
			if err := in.readStdin(stdin); err != nil {
				in.close()
				return nil, err
			}
			in.files = append(in.files, a)
			continue
		}
		found, err := expandImages(a)
		if err != nil {
			in.close()
			return nil, err
		}
		in.files = append(in.files, found...)
	}
	return in, nil
}

func (in *imageArgs) readStdin(stdin io.Reader) error {
	f, err := os.CreateTemp("", "vit-stdin-*")
	if err != nil {
		return err
	}
	in.stdin = f.Name()
	n, err := io.Copy(f, io.LimitReader(stdin, maxStdinImage+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return fmt.Errorf("reading the image from stdin: %w", err)
	case n > maxStdinImage:
		return fmt.Errorf("stdin holds more than %d bytes: not one image", maxStdinImage)
	case n == 0:
		return errors.New("stdin is empty: pipe an image into it when an image argument is -")
	}
	return nil
}

// path is where image name is read from.
func (in *imageArgs) path(name string) string {
	if name == "-" {
		return in.stdin
	}
	return name
}

// describe replaces the temporary copy of stdin by "-" in err.
func (in *imageArgs) describe(err error) error {
	if in.stdin == "" || err == nil || !strings.Contains(err.Error(), in.stdin) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), in.stdin, "- (stdin)"))
}

// close removes the temporary copy of stdin.
func (in *imageArgs) close() {
	if in.stdin != "" {
		os.Remove(in.stdin)
	}
}

// expandImages turns an argument into image paths: a file as given, a
// folder walked for image files (sorted).
func expandImages(a string) ([]string, error) {
	st, err := os.Stat(a)
	if err != nil || !st.IsDir() {
		return []string{a}, nil // a missing file is reported when read, with the other bad images
	}
	var found []string
	err = filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && imageExts[strings.ToLower(filepath.Ext(p))] {
			found = append(found, p)
		}
		return err
	})
	sort.Strings(found)
	return found, err
}

// fitWarner warns, once for each kind, about images that do not fit the
// model's input: a colour image into a grey model (converted to grey), and
// an image over four times the model's input side (shrunk, its detail
// lost), such as a photo into a 28×28 model.
type fitWarner struct {
	w            io.Writer
	c            vit.Config
	colour, size bool // warned already
}

func (f *fitWarner) check(name string, img *imageio.RGB) {
	c := f.c
	if c.Channels == 1 && !f.colour && !isGrey(img) {
		f.colour = true
		fmt.Fprintf(f.w, "warning: %s is in colour but the model takes grey images: it is converted to grey\n", name)
	}
	if !f.size && (img.W > 4*c.ImageWidth || img.H > 4*c.ImageHeight) {
		f.size = true
		fmt.Fprintf(f.w, "warning: %s is %d×%d but the model takes %d×%d images: it is shrunk and its detail lost\n",
			name, img.W, img.H, c.ImageWidth, c.ImageHeight)
	}
}

// isGrey reports whether every pixel of img has equal red, green and blue.
func isGrey(img *imageio.RGB) bool {
	for i := 0; i+2 < len(img.Pix); i += 3 {
		if img.Pix[i] != img.Pix[i+1] || img.Pix[i] != img.Pix[i+2] {
			return false
		}
	}
	return true
}
