package main

import (
	"fmt"

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
// conversion before the pipeline.
func loadImage(path string, c vit.Config, p imageio.Preprocessor) ([]float32, error) {
	img, err := imageio.Load(path)
	if err != nil {
		return nil, err
	}
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
func imageBatches(files []string, c vit.Config, batch int, run func(x []float32, names []string) error, bad func(file string, err error)) error {
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
