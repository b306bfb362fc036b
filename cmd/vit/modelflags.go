package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/resnet"
)

// modelFlags are the architecture flags of the commands that build a model
// (train, info, bench). A flag the user leaves unset keeps the preset's,
// the recipe's or the dataset's value (pflag's Changed tells which).
type modelFlags struct {
	fs                            *pflag.FlagSet
	arch                          string // vit or resnet
	width                         int    // a ResNet's base width
	preset                        string
	patch, dim, depth, heads, mlp int
	image, channels, classes      int
	pool, posEmbed                string
	attention                     string
	features                      int
	stem                          string          // "" unset, "none" or CHANNELS:KERNEL:STRIDE,...
	fromRecipe                    map[string]bool // flags a recipe filled in
	savedOK                       bool            // --model may also name a saved model (vit bench)
}

// trainingFlags are the model flags that only matter in training:
// dropout, stochastic depth and Performer feature redraws.
type trainingFlags struct {
	fs                             *pflag.FlagSet
	dropout, attnDropout, dropPath float64
	redrawEvery                    int
}

func (f *modelFlags) register(fs *pflag.FlagSet) {
	f.fs = fs
	group(fs, "Model flags", func(fl flags) {
		fl.enum(&f.arch, "arch", "vit", []string{"vit", "resnet"},
			"architecture: vit (a Vision Transformer, or a hybrid with --stem) or resnet (the paper's CNN baseline, BiT's ResNet v2 with GroupNorm and weight standardisation; --depth 26 or 50, --width)")
		fl.count(&f.width, "width", 0, 2, "ResNet base width: the stem's channels and the first stage's bottleneck width, even (default 16; the paper's ResNets have 64)")
		parse, usage := parsePreset, "preset `SIZE/PATCH` from the paper: Ti, S, B, L or H with any patch, e.g. B/16 (default: the reference small ViT, patch 4, dim 128, depth 6, 4 heads, MLP 512)"
		if f.savedOK {
			parse = func(s string) error {
				if _, err := os.Stat(s); err == nil {
					return nil
				}
				if err := parsePreset(s); err != nil {
					return fmt.Errorf("no such file or folder, and %v", err)
				}
				return nil
			}
			usage = "preset `SIZE/PATCH` from the paper (Ti, S, B, L or H with any patch, e.g. B/16), or a saved model: anything vit predict reads (default: the reference small ViT, patch 4, dim 128, depth 6, 4 heads, MLP 512)"
		}
		fl.parsed(&f.preset, "model", "", parse, []string{"Z/16", "B/0", "B", "B/x"}, usage)
		fl.count(&f.patch, "patch", 0, 1, "patch side in pixels, or in feature-map cells with --stem (overrides the preset)")
		fl.parsed(&f.stem, "stem", "", parseStem, []string{"32:3", "32:4:1", "x"},
			"hybrid model: convolutions `C:K:S,...` (channels, odd kernel, stride; each followed by GELU; :ln adds a LayerNorm) whose feature map is cut into patches, e.g. 32:3:1,64:3:2; none for a plain ViT (default: the recipe's)")
		fl.count(&f.dim, "dim", 0, 1, "token width")
		fl.count(&f.depth, "depth", 0, 1, "number of encoder blocks; a ResNet's depth, 26 or 50 (default 26)")
		fl.count(&f.heads, "heads", 0, 1, "attention heads")
		fl.count(&f.mlp, "mlp", 0, 1, "MLP hidden width")
		fl.count(&f.image, "image", 0, 1, "image side in pixels (default: the dataset's, or 224 for presets)")
		fl.intChoice(&f.channels, "channels", 0, []int{1, 3}, "input channels, 1 or 3 (default: the dataset's, or 3 for presets)")
		fl.count(&f.classes, "classes", 0, 1, "number of classes (default: the dataset's, or 1000 for presets)")
		fl.enum(&f.pool, "pool", "cls", []string{"cls", "gap"}, "pooling: cls (class token) or gap (global average of tokens)")
		fl.enum(&f.posEmbed, "pos-embed", "learned", vit.PosEmbeds, "position embeddings (the paper's Table 8): none, learned (1-D, one per token), learned-2d (row and column embeddings of dim/2 each), sincos (fixed 2-D sine-cosine) or relative (a learned bias per head and relative offset in every attention)")
		fl.enum(&f.attention, "attention", "softmax", attentions, "attention: softmax (exact, O(tokens²)) or performer (FAVOR+, O(tokens))")
		fl.count(&f.features, "features", 0, 1, "Performer random features per head (default ⌊dh·ln dh⌋)")
	})
}

// saved loads the model that --model names when it is a file or folder
// (savedOK), and returns nil for a preset. A saved model is taken as it
// is (what says what the command does with it): shape flags are refused.
func (f *modelFlags) saved(ctx context.Context, what string) (*vit.Model, error) {
	path := f.preset
	if !f.savedOK || path == "" {
		return nil, nil
	}
	if _, err := os.Stat(path); err != nil {
		return nil, nil
	}
	for _, name := range []string{"arch", "patch", "stem", "dim", "depth", "heads", "mlp", "image", "channels", "classes", "pool", "pos-embed", "attention", "features", "width"} {
		if changed(f.fs, name) {
			return nil, usageErrorf("--%s: --model %s is a saved model, %s as it is; give a preset (--model B/16) to set the shape", name, path, what)
		}
	}
	return loadModel(ctx, path, "", 0)
}

func (f *trainingFlags) register(fs *pflag.FlagSet) {
	f.fs = fs
	group(fs, "Training-only model flags", func(fl flags) {
		fl.rate(&f.dropout, "dropout", 0, "dropout rate, in [0, 1)")
		fl.rate(&f.attnDropout, "attention-dropout", 0, "attention dropout rate, in [0, 1)")
		fl.rate(&f.dropPath, "drop-path", 0, "stochastic depth rate of the last block, in [0, 1) (default: the recipe's, 0.1 for reference, 0 for default and quick)")
		fl.count(&f.redrawEvery, "redraw-every", 0, 0, "redraw the Performer features every N training steps (0: never)")
	})
}

// parseStem checks the syntax of --stem.
func parseStem(s string) error {
	if s == "none" {
		return nil
	}
	_, err := vit.ParseStem(s)
	return err
}

// changed reports whether the flag name was given on the command line.
func changed(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && f.Changed
}

// config builds the model configuration; the image height and width,
// channels and classes fall back to the given defaults (a dataset's, whose
// images need not be square) when the flags leave them unset. A
// configuration Validate refuses is a usage error.
// tf may be nil (commands that do not train).
func (f *modelFlags) config(tf *trainingFlags, height, width, channels, classes int) (vit.Config, error) {
	set := func(dst *int, name string, v int) {
		if f.set(name) {
			*dst = v
		}
	}
	set(&height, "image", f.image)
	set(&width, "image", f.image)
	set(&channels, "channels", f.channels)
	set(&classes, "classes", f.classes)
	if f.arch == resnet.Arch {
		return f.resnetConfig(tf, height, width, channels, classes)
	}
	if f.set("width") {
		return vit.Config{}, usageErrorf("--width %d: a ResNet's (--arch resnet); a ViT has --dim", f.width)
	}
	var c vit.Config
	if f.preset != "" {
		var err error
		if c, err = vit.Preset(f.preset, height, channels, classes); err != nil && !changed(f.fs, "patch") {
			return c, usageErrorf("--model %s: %v", f.preset, err)
		}
		c.ImageWidth = width
	} else {
		c = vit.Config{ImageHeight: height, ImageWidth: width, Channels: channels, Classes: classes,
			Patch: 4, Dim: 128, Depth: 6, Heads: 4, MLPDim: 512}
	}
	if f.patch > 0 {
		c.Patch = f.patch
	}
	if f.stem != "" && f.stem != "none" {
		c.Stem, _ = vit.ParseStem(f.stem) // checked as parsed
	}
	set(&c.Dim, "dim", f.dim)
	set(&c.Depth, "depth", f.depth)
	set(&c.Heads, "heads", f.heads)
	set(&c.MLPDim, "mlp", f.mlp)
	if c.Pool == "" || f.set("pool") { // an encoder preset's pooling stays unless asked
		c.Pool = f.pool
	}
	c.PosEmbed = f.posEmbed
	c.Attention, c.Features = f.attention, f.features
	if f.features > 0 && !c.Performer() {
		return c, usageErrorf("--features %d: random features are for --attention performer", f.features)
	}
	if tf != nil {
		if tf.redrawEvery > 0 && !c.Performer() {
			return c, usageErrorf("--redraw-every %d: feature redraws are for --attention performer", tf.redrawEvery)
		}
		c.Dropout, c.AttentionDropout = float32(tf.dropout), float32(tf.attnDropout)
		c.DropPath = float32(tf.dropPath)
		c.RedrawEvery = tf.redrawEvery
	}
	if err := c.Validate(); err != nil {
		return c, usageErrorf("model flags: %v", err)
	}
	return c, nil
}

// applyRecipe fills the model flags the user left unset from a recipe's
// model (zero values leave them unset). A recipe's stem and patch go
// together: they apply only when neither --stem nor --patch is given
// (--patch alone, or --stem none, asks for a plain ViT).
func (f *modelFlags) applyRecipe(dim, mlp, depth int, stem string, patch int) {
	f.fromRecipe = map[string]bool{}
	if !f.set("dim") && !f.set("mlp") && dim > 0 {
		f.dim, f.mlp = dim, mlp
		f.fromRecipe["dim"], f.fromRecipe["mlp"] = true, true
	}
	if !f.set("depth") && depth > 0 {
		f.depth = depth
		f.fromRecipe["depth"] = true
	}
	if f.stem == "" && !f.set("patch") && stem != "" {
		f.stem, f.patch = stem, patch
	}
}

// set reports whether the model flag name was given or filled in by a
// recipe.
func (f *modelFlags) set(name string) bool { return changed(f.fs, name) || f.fromRecipe[name] }

// standalone builds the model configuration for commands without a dataset
// (info, bench): 28×28 grey images and 10 classes for the reference model,
// 224×224 RGB and 1000 classes for presets, unless the flags say otherwise.
func (f *modelFlags) standalone(tf *trainingFlags) (vit.Config, error) {
	image, channels, classes := 28, 1, 10
	if f.preset != "" {
		image, channels, classes = 224, 3, 1000
	}
	return f.config(tf, image, image, channels, classes)
}

// vitOnly are the model flags a ResNet has no use for.
var vitOnly = []string{"model", "patch", "stem", "dim", "heads", "mlp", "pool", "pos-embed", "attention", "features",
	"dropout", "attention-dropout", "drop-path", "redraw-every"}

// resnetConfig is config for --arch resnet: depth 26 or 50 (default 26)
// and --width (default 16).
func (f *modelFlags) resnetConfig(tf *trainingFlags, height, width, channels, classes int) (vit.Config, error) {
	for _, name := range vitOnly {
		if changed(f.fs, name) || tf != nil && changed(tf.fs, name) {
			return vit.Config{}, usageErrorf("--%s: a ViT's flag; a ResNet (--arch resnet) takes --depth and --width", name)
		}
	}
	depth, w := 26, 16
	if changed(f.fs, "depth") {
		depth = f.depth
	}
	if changed(f.fs, "width") {
		w = f.width
	}
	c := resnet.Config(depth, w, height, channels, classes)
	c.ImageWidth = width
	if err := c.Validate(); err != nil {
		return c, usageErrorf("model flags: %v", err)
	}
	return c, nil
}
