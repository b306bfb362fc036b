package main

import (
	"fmt"
	"log/slog"

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

func (m *misfits) check(path string, img *imageio.RGB) {
	why := m.in.Misfit(img)
	if why == "" {
		return
	}
	if m.n < misfitWarnings {
		slog.Warn("image does not fit the model; its prediction may be meaningless", "file", path, "why", why)
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
// (imageio.Input.Planar).
func loadPlanar(path string, c vit.Config, mf *misfits) ([]uint8, error) {
	img, err := imageio.Load(path)
	if err != nil {
		return nil, err
	}
	mf.check(path, img)
	px, err := c.Input().Planar(img)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return px, nil
}

// loadImage decodes the image at path and prepares it for the model with
// p (from c.Input().Preprocessor()): [channels, height, width],
// normalised, as vit.Classify does.
func loadImage(path string, c vit.Config, p imageio.Preprocessor, mf *misfits) ([]float32, error) {
	img, err := imageio.Load(path)
	if err != nil {
		return nil, err
	}
	mf.check(path, img)
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
func imageBatches(files []string, c vit.Config, batch int, run func(x []float32, names []string) error, bad func(file string, err error)) error {
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
	for _, f := range files {
		img, err := loadImage(f, c, p, mf)
		if err != nil {
			if err := flush(); err != nil {
				return err
			}
			bad(f, err)
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
