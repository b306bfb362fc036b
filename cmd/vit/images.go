package main

import (
	"fmt"
	"log/slog"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/imageio"
)

// loadPlanar decodes the image at path and resizes (and crops) it as the
// model's preprocessing does: planar bytes [channels, height, width]
// (imageio.Input.Planar), warning when the image does not fit the model.
func loadPlanar(path string, c vit.Config) ([]uint8, error) {
	img, err := imageio.Load(path)
	if err != nil {
		return nil, err
	}
	in := c.Input()
	warnMisfit(path, in, img)
	px, err := in.Planar(img)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return px, nil
}

// warnMisfit logs a warning when img, read from path, does not look like
// what the model takes (imageio.Input.Misfit).
func warnMisfit(path string, in imageio.Input, img *imageio.RGB) {
	if why := in.Misfit(img); why != "" {
		slog.Warn("image does not fit the model; its prediction may be meaningless", "file", path, "why", why)
	}
}

// loadImage decodes the image at path and prepares it for the model with
// p (from c.Input().Preprocessor()): [channels, height, width],
// normalised.
func loadImage(path string, c vit.Config, p imageio.Preprocessor) ([]float32, error) {
	img, err := imageio.Load(path)
	if err != nil {
		return nil, err
	}
	in := c.Input()
	warnMisfit(path, in, img)
	x, err := in.Tensor(img, p)
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
		img, err := loadImage(f, c, p)
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
