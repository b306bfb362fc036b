package vit

import (
	"context"
	"fmt"
	"image"
	"log/slog"
	"math"
	"sort"

	"github.com/vitgo/vit/imageio"
)

// Batch is how many images ClassifyBatch and EmbedBatch run per forward
// pass (vit predict's and vit embed's default --batch, so the numbers are
// theirs).
const Batch = 16

// Class is one class of a prediction: its index in the head, its label
// (Config.Labels, or the index in decimal when the model has none) and its
// softmax probability.
type Class struct {
	Index int     `json:"index"`
	Label string  `json:"label"`
	Prob  float64 `json:"prob"`
}

// Input returns how images are prepared for a model with config c: its
// input size and channels, and the resize, crop and normalisation its
// checkpoint records (Resample, CropPct, Mean, Std).
func (c Config) Input() imageio.Input {
	return imageio.Input{
		Size:        imageio.Size{H: c.ImageHeight, W: c.ImageWidth},
		Channels:    c.Channels,
		Resample:    c.Resample,
		CropPct:     float64(c.CropPct),
		ResizeShort: c.ResizeShort,
		ResizeTo:    c.ResizeTo,
		Mean:        c.Mean,
		Std:         c.Std,
	}
}

// Label returns the name of class i: Labels[i], or i in decimal when the
// config has no label for it.
func (c Config) Label(i int) string {
	if i >= 0 && i < len(c.Labels) {
		return c.Labels[i]
	}
	return fmt.Sprint(i)
}

// TopK returns the k most probable classes of one image's logits:
// [classes] under softmax, most probable first (ties keep index order).
// Labels come from c.
func (c Config) TopK(logits []float32, k int) []Class {
	if len(logits) == 0 || k <= 0 {
		return nil
	}
	mx := logits[0]
	for _, v := range logits {
		mx = max(mx, v)
	}
	var z float64
	for _, v := range logits {
		z += math.Exp(float64(v - mx))
	}
	idx := make([]int, len(logits))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return logits[idx[a]] > logits[idx[b]] })
	k = min(k, len(idx))
	out := make([]Class, k)
	for i, j := range idx[:k] {
		out[i] = Class{Index: j, Label: c.Label(j), Prob: math.Exp(float64(logits[j]-mx)) / z}
	}
	return out
}

// Classify returns the k most probable classes of img (k ≥ 1; at most the
// model's classes), most probable first; a Headless model is refused with
// ErrHeadless. The image is prepared as the
// model's checkpoint expects (see Config.Input); one that does not fit the
// model (a colour photo for a grey model, a photo for a 28×28 model) is
// classified all the same, with a warning logged through log/slog. A
// model whose inference would not fit in the memory available
// (Config.CheckMemory) is refused with a *MemoryError before anything is
// allocated.
func Classify(ctx context.Context, m *Model, img image.Image, k int) ([]Class, error) {
	out, err := ClassifyBatch(ctx, m, []image.Image{img}, k)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// ClassifyBatch is Classify for many images: out[i] holds the top k
// classes of imgs[i]. The images run Batch at a time (the memory check is
// for min(Batch, len(imgs)) images); ctx is checked before each batch.
func ClassifyBatch(ctx context.Context, m *Model, imgs []image.Image, k int) ([][]Class, error) {
	if k < 1 {
		return nil, fmt.Errorf("vit: top %d classes asked for; ask for at least 1", k)
	}
	if err := m.Config.CheckHead(); err != nil {
		return nil, fmt.Errorf("vit: %w", err)
	}
	out := make([][]Class, 0, len(imgs))
	err := batches(ctx, m, imgs, func(x []float32, n int) error {
		logits, err := m.Predict(x, n)
		if err != nil {
			return err
		}
		c := m.Config.Classes
		for i := range n {
			out = append(out, m.Config.TopK(logits[i*c:(i+1)*c], k))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Embed returns the pre-head feature vector of img: [Config.FeatureDim] (see
// Model.Features), with img prepared and the memory checked as in
// Classify.
func Embed(ctx context.Context, m *Model, img image.Image) ([]float32, error) {
	out, err := EmbedBatch(ctx, m, []image.Image{img})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// EmbedBatch is Embed for many images: out[i] is the [Config.FeatureDim] feature
// vector of imgs[i]. The images run Batch at a time (the memory check is
// for min(Batch, len(imgs)) images); ctx is checked before each batch.
func EmbedBatch(ctx context.Context, m *Model, imgs []image.Image) ([][]float32, error) {
	out := make([][]float32, 0, len(imgs))
	err := batches(ctx, m, imgs, func(x []float32, n int) error {
		f, err := m.Features(x, n)
		if err != nil {
			return err
		}
		d := m.Config.FeatureDim()
		for i := range n {
			out = append(out, f[i*d:(i+1)*d:(i+1)*d])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// batches prepares imgs for m and calls run with x: [n, channels, height,
// width] for n ≤ Batch images at a time, in order, checking ctx before
// each batch. A model whose batch would not fit in memory
// (Config.CheckMemory) is refused, with a *MemoryError, before anything is
// allocated. Images that do not fit the model (imageio.Input.Misfit) are
// counted and logged in one warning: how many, the index of the first and
// why it does not fit.
func batches(ctx context.Context, m *Model, imgs []image.Image, run func(x []float32, n int) error) error {
	if m == nil {
		return fmt.Errorf("vit: no model (nil *Model)")
	}
	if len(imgs) == 0 {
		return nil
	}
	if err := m.Config.CheckMemory(min(Batch, len(imgs)), false); err != nil {
		return fmt.Errorf("vit: %w", err)
	}
	in := m.Config.Input()
	p, err := in.Preprocessor()
	if err != nil {
		return fmt.Errorf("vit: model config: %w", err)
	}
	misfits, first, why := 0, 0, ""
	defer func() {
		switch {
		case len(imgs) == 1 && misfits == 1:
			slog.WarnContext(ctx, "the image does not fit the model; its prediction may be meaningless", "why", why)
		case misfits > 0:
			slog.WarnContext(ctx, "images do not fit the model; their predictions may be meaningless",
				"misfits", misfits, "images", len(imgs), "first", first, "why", why)
		}
	}()
	x := make([]float32, 0, Batch*in.Channels*in.Size.H*in.Size.W)
	for start := 0; start < len(imgs); start += Batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(start+Batch, len(imgs))
		x = x[:0]
		for i, img := range imgs[start:end] {
			if img == nil {
				return fmt.Errorf("vit: image %d is nil", start+i)
			}
			rgb := imageio.FromImage(img)
			if w := in.Misfit(rgb); w != "" {
				if misfits == 0 {
					first, why = start+i, w
				}
				misfits++
			}
			t, err := in.Tensor(rgb, p)
			if err != nil {
				return fmt.Errorf("vit: image %d: %w", start+i, err)
			}
			x = append(x, t...)
		}
		if err := run(x, end-start); err != nil {
			return err
		}
	}
	return nil
}
