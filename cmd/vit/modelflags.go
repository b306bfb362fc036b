package main

import (
	"flag"
	"fmt"

	"github.com/vitgo/vit"
)

// modelFlags are the model flags every command shares.
type modelFlags struct {
	preset                         string
	patch, dim, depth, heads, mlp  int
	image, channels, classes       int
	pool, posEmbed                 string
	dropout, attnDropout, dropPath float64
	attention                      string
	features, redrawEvery          int
	stem                           string // "" unset, "none" or CHANNELS:KERNEL:STRIDE,...
}

func (f *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.preset, "model", "", "preset `SIZE/PATCH` from the paper: Ti, S, B, L or H with any patch, e.g. B/16 (default: the reference small ViT, patch 4, dim 128, depth 6, 4 heads, MLP 512)")
	fs.IntVar(&f.patch, "patch", 0, "patch side in pixels, or in feature-map cells with --stem (overrides the preset)")
	fs.StringVar(&f.stem, "stem", "", "hybrid model: convolutions `C:K:S,...` (channels, odd kernel, stride; each followed by GELU) whose feature map is cut into patches, e.g. 32:3:1,64:3:2; none for a plain ViT (default: the recipe's)")
	fs.IntVar(&f.dim, "dim", 0, "token width")
	fs.IntVar(&f.depth, "depth", 0, "number of encoder blocks")
	fs.IntVar(&f.heads, "heads", 0, "attention heads")
	fs.IntVar(&f.mlp, "mlp", 0, "MLP hidden width")
	fs.IntVar(&f.image, "image", 0, "image side in pixels (default: the dataset's, or 224 for presets)")
	fs.IntVar(&f.channels, "channels", 0, "input channels, 1 or 3 (default: the dataset's, or 3 for presets)")
	fs.IntVar(&f.classes, "classes", 0, "number of classes (default: the dataset's, or 1000 for presets)")
	fs.StringVar(&f.pool, "pool", "cls", "pooling: cls (class token) or gap (global average of tokens)")
	fs.StringVar(&f.posEmbed, "pos-embed", "learned", "position embeddings: learned or sincos (fixed 2-D)")
	fs.Float64Var(&f.dropout, "dropout", 0, "dropout rate")
	fs.Float64Var(&f.attnDropout, "attention-dropout", 0, "attention dropout rate")
	fs.Float64Var(&f.dropPath, "drop-path", -1, "stochastic depth rate (default: the recipe's, 0.1 for reference, 0 for default and quick)")
	fs.StringVar(&f.attention, "attention", "softmax", "attention: softmax (exact, O(tokens²)) or performer (FAVOR+, O(tokens))")
	fs.IntVar(&f.features, "features", 0, "Performer random features per head (default ⌊dh·ln dh⌋)")
	fs.IntVar(&f.redrawEvery, "redraw-every", 0, "redraw the Performer features every N training steps (0: never)")
}

// config builds the model configuration; image, channels and classes fall
// back to the given defaults (a dataset's) when the flags leave them unset.
func (f *modelFlags) config(image, channels, classes int) (vit.Config, error) {
	if f.image > 0 {
		image = f.image
	}
	if f.channels > 0 {
		channels = f.channels
	}
	if f.classes > 0 {
		classes = f.classes
	}
	var c vit.Config
	if f.preset != "" {
		var err error
		if c, err = vit.Preset(f.preset, image, channels, classes); err != nil && f.patch == 0 {
			return c, err
		}
	} else {
		c = vit.Config{ImageHeight: image, ImageWidth: image, Channels: channels, Classes: classes,
			Patch: 4, Dim: 128, Depth: 6, Heads: 4, MLPDim: 512}
	}
	set := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	set(&c.Patch, f.patch)
	if f.stem != "" && f.stem != "none" {
		stem, err := vit.ParseStem(f.stem)
		if err != nil {
			return c, err
		}
		c.Stem = stem
	}
	set(&c.Dim, f.dim)
	set(&c.Depth, f.depth)
	set(&c.Heads, f.heads)
	set(&c.MLPDim, f.mlp)
	c.Pool, c.PosEmbed = f.pool, f.posEmbed
	c.Dropout, c.AttentionDropout = float32(f.dropout), float32(f.attnDropout)
	if f.dropPath >= 0 {
		c.DropPath = float32(f.dropPath)
	}
	c.Attention, c.Features, c.RedrawEvery = f.attention, f.features, f.redrawEvery
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("model: %w", err)
	}
	return c, nil
}

// applyRecipe fills the model flags the user left unset from a recipe's
// model (zero values leave them unset). A recipe's stem and patch go
// together: they apply only when neither --stem nor --patch is given
// (--patch alone, or --stem none, asks for a plain ViT).
func (f *modelFlags) applyRecipe(dim, mlp, depth int, stem string, patch int) {
	set := func(dst *int, v int) {
		if *dst == 0 {
			*dst = v
		}
	}
	if f.dim == 0 && f.mlp == 0 {
		f.dim, f.mlp = dim, mlp
	}
	set(&f.depth, depth)
	if f.stem == "" && f.patch == 0 && stem != "" {
		f.stem, f.patch = stem, patch
	}
}

// standalone builds the model configuration for commands without a dataset
// (info, bench): 28×28 grey images and 10 classes for the reference model,
// 224×224 RGB and 1000 classes for presets, unless the flags say otherwise.
func (f *modelFlags) standalone() (vit.Config, error) {
	image, channels, classes := 28, 1, 10
	if f.preset != "" {
		image, channels, classes = 224, 3, 1000
	}
	if f.dropPath < 0 {
		f.dropPath = 0
	}
	return f.config(image, channels, classes)
}
