package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/imageio"
)

// misfitWarnings is how many images that do not fit the model are named
// one by one before the rest are only counted.
const misfitWarnings = 3

// misfits warns, through log/slog, about images that do not look like what
// the model takes (imageio.Input.Misfit): the first few by name, the rest
// in one summary line from done.
type misfits struct {
	in imageio.Input
	n  int
}

func (m *misfits) check(name string, img *imageio.RGB) {
	why := m.in.Misfit(img)
	if why == "" {
		return
	}
	if m.n < misfitWarnings {
		slog.Warn("image does not fit the model; its prediction may be meaningless", "file", name, "why", why)
	}
	m.n++
}

func (m *misfits) done() {
	if more := m.n - misfitWarnings; more > 0 {
		slog.Warn(fmt.Sprintf("%d more images do not fit the model", more))
	}
}

// loadPlanar decodes the image at path and resizes (and crops) it as the
// model's preprocessing does: planar bytes [channels, height, width]
// (imageio.Input.Planar). name is what messages call it.
func loadPlanar(path, name string, c vit.Config, mf *misfits) ([]uint8, error) {
	img, err := imageio.Load(path)
	if err != nil {
		return nil, err
	}
	mf.check(name, img)
	px, err := c.Input().Planar(img)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return px, nil
}

// loadImage decodes the image at path and prepares it for the model with
// p (from c.Input().Preprocessor()): [channels, height, width],
// normalised, as vit.Classify does. name is what messages call it.
func loadImage(path, name string, c vit.Config, p imageio.Preprocessor, mf *misfits) ([]float32, error) {
	img, err := imageio.Load(path)
	if err != nil {
		return nil, err
	}
	mf.check(name, img)
	x, err := c.Input().Tensor(img, p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}

// imageBatches reads files in order, prepares each for the model and calls
// run with full batches: x [n, channels, height, width] and the n file
// names. A file that cannot be read goes to bad, after the images before it
// have been run, so results stay in input order.
func imageBatches(in *imageArgs, c vit.Config, batch int, run func(x []float32, names []string) error, bad func(file string, err error)) error {
	p, err := c.Input().Preprocessor()
	if err != nil {
		return fmt.Errorf("model config: %w", err)
	}
	mf := &misfits{in: c.Input()}
	defer mf.done()
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
	for _, f := range in.files {
		img, err := loadImage(in.path(f), in.name(f), c, p, mf)
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

// name is what messages call image name: "- (stdin)" for stdin.
func (in *imageArgs) name(name string) string {
	if name == "-" {
		return "- (stdin)"
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
// folder walked for image files (sorted). A folder without any is an
// error: a command given only such folders would otherwise do nothing and
// succeed.
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
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("%s is a folder without images (%s)", a, imageExtList())
	}
	sort.Strings(found)
	return found, nil
}

// imageExtList lists imageExts: ".bmp, .gif, …".
func imageExtList() string {
	exts := make([]string, 0, len(imageExts))
	for e := range imageExts {
		exts = append(exts, e)
	}
	sort.Strings(exts)
	return strings.Join(exts, ", ")
}
