package vit

import (
	"context"
	"errors"
	"image"
	"testing"

	"github.com/vitgo/vit/internal/memlimit"
)

// Classify, ClassifyBatch, Embed and EmbedBatch refuse a model whose batch
// would not fit in memory, with a *MemoryError, before allocating its
// input or workspace. The model here claims 8192×8192 images (1.4 million
// tokens: terabytes of attention); the test runs under a 2 GiB address-space
// limit so that a regression dies in the child instead of here.
func TestClassifyChecksMemory(t *testing.T) {
	if !memlimit.Child(t, 2<<30) {
		return
	}
	c := Config{ImageHeight: 28, ImageWidth: 28, Channels: 1, Patch: 7, Dim: 16, Depth: 1, Heads: 2, MLPDim: 32, Classes: 10}
	m, err := New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	m.Config.ImageHeight, m.Config.ImageWidth = 8192, 8192
	img := image.NewGray(image.Rect(0, 0, 28, 28))
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"Classify":      func() error { _, err := Classify(ctx, m, img, 1); return err },
		"ClassifyBatch": func() error { _, err := ClassifyBatch(ctx, m, []image.Image{img, img}, 1); return err },
		"Embed":         func() error { _, err := Embed(ctx, m, img); return err },
		"EmbedBatch":    func() error { _, err := EmbedBatch(ctx, m, []image.Image{img, img}); return err },
	} {
		var me *MemoryError
		if err := call(); !errors.As(err, &me) {
			t.Errorf("%s: err %v, want a *MemoryError", name, err)
		} else if me.Need.Train || me.Need.Batch < 1 {
			t.Errorf("%s: checked %+v, want inference of a batch", name, me.Need)
		}
	}
}

// Predict, Features, Attention and AttentionInputs refuse a negative batch, and a batch that x does not hold before
// allocating a workspace for it (here a billion images: terabytes).
func TestPredictChecksInputFirst(t *testing.T) {
	if !memlimit.Child(t, 2<<30) {
		return
	}
	c := Config{ImageHeight: 28, ImageWidth: 28, Channels: 1, Patch: 7, Dim: 16, Depth: 1, Heads: 2, MLPDim: 32, Classes: 10}
	m, err := New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 28*28)
	for _, batch := range []int{-1, 1 << 30} {
		for name, call := range map[string]func() error{
			"Predict":         func() error { _, err := m.Predict(x, batch); return err },
			"Features":        func() error { _, err := m.Features(x, batch); return err },
			"Attention":       func() error { _, _, err := m.Attention(x, batch, []int{0}); return err },
			"AttentionInputs": func() error { _, err := m.AttentionInputs(x, batch); return err },
		} {
			if err := call(); err == nil {
				t.Errorf("%s(x of 1 image, batch %d): no error", name, batch)
			}
		}
	}
	if _, err := m.Predict(x, 1); err != nil {
		t.Fatal(err)
	}
}
