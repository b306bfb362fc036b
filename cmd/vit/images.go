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
