package main

import (
	"fmt"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/imageio"
)

// preprocessor returns how images are prepared for a model with config c:
// timm's centre-crop transform when c.CropPct > 0, else Hugging Face's
// resize-to-size processor; both match Pillow.
func preprocessor(c vit.Config) (imageio.Preprocessor, error) {
	filter := imageio.Bilinear
	if c.Resample != "" {
		f, err := imageio.ParseFilter(c.Resample)
		if err != nil {
			return nil, fmt.Errorf("model config: %w", err)
		}
		filter = f
	}
	mean, std := [3]float32{}, [3]float32{1, 1, 1}
	for i := range 3 {
		if len(c.Mean) > 0 {
			mean[i] = c.Mean[min(i, len(c.Mean)-1)]
		}
		if len(c.Std) > 0 {
			std[i] = c.Std[min(i, len(c.Std)-1)]
		}
	}
	size := imageio.Size{H: c.ImageHeight, W: c.ImageWidth}
	if c.CropPct > 0 {
		return imageio.TimmTransform{InputSize: size, CropPct: float64(c.CropPct), Interpolation: filter, Mean: mean, Std: std}, nil
	}
	return imageio.HFProcessor{Size: size, Resample: filter, RescaleFactor: 1.0 / 255, Mean: mean, Std: std}, nil
}

// loadImage decodes the image at path and prepares it for the model:
// [channels, height, width], normalised. Grey models get Pillow's "L"
// conversion (ITU-R 601-2 luma, rounded as Pillow does) before the pipeline.
func loadImage(path string, c vit.Config, p imageio.Preprocessor) ([]float32, error) {
	img, err := imageio.Load(path)
	if err != nil {
		return nil, err
	}
	if c.Channels == 1 {
		for i := 0; i < len(img.Pix); i += 3 {
			r, g, b := uint32(img.Pix[i]), uint32(img.Pix[i+1]), uint32(img.Pix[i+2])
			l := uint8((r*19595 + g*38470 + b*7471 + 0x8000) >> 16)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2] = l, l, l
		}
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
