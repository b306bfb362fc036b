package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/batchrun"
	"github.com/vitgo/vit/imageio"
)

// loadPlanar decodes the image at path and resizes (and crops) it as the
// model's preprocessing does: planar bytes [channels, height, width]
// (imageio.Input.Planar). name is what messages call it.
func loadPlanar(path, name string, c vit.Config, mf *batchrun.Misfits) ([]uint8, error) {
	img, err := imageio.Load(path)
	if err != nil {
		return nil, err
	}
	mf.Check(name, c.Input().Misfit(img))
	px, err := c.Input().Planar(img)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return px, nil
}

// maxStdinImage is the most bytes an image read from stdin may have.
const maxStdinImage = 1 << 30

// imageArgs are the images named on a command line: files, folders (walked
// for image files, sorted), globs (batchrun.Expand), the paths of a list
// file (--list) and "-", one image read from stdin.
type imageArgs struct {
	files []string // in order; "-" for stdin
	stdin string   // a temporary copy of stdin's image, when "-" is named
}

// readImageArgs expands args into image files, then adds those of the
// list file named list ("" for none, "-" to read it from stdin), copying
// stdin into a temporary file when "-" is among args. Call close when done.
func readImageArgs(args []string, list string, stdin io.Reader) (*imageArgs, error) {
	if len(args) == 0 && list == "" {
		return nil, usageErrorf("no images given: name image files, folders, globs or - (one image from stdin), or --list FILE")
	}
	if list == "-" && slices.Contains(args, "-") {
		return nil, usageErrorf("--list - and the image -: stdin holds one or the other")
	}
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
		found, err := batchrun.Expand(a)
		if err != nil {
			in.close()
			return nil, err
		}
		in.files = append(in.files, found...)
	}
	if list != "" {
		found, err := readList(list, stdin)
		if err != nil {
			in.close()
			return nil, err
		}
		in.files = append(in.files, found...)
	}
	return in, nil
}

// readList reads the list file named list, "-" for stdin.
func readList(list string, stdin io.Reader) ([]string, error) {
	if list == "-" {
		return batchrun.ReadList(stdin, "--list - (stdin)")
	}
	f, err := os.Open(list)
	if err != nil {
		return nil, fmt.Errorf("--list: %w", err)
	}
	defer f.Close()
	return batchrun.ReadList(f, list)
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

// needArgs requires at least one positional argument, described by what.
func needArgs(what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usageErrorf("no images given: name %s", what)
		}
		return nil
	}
}
