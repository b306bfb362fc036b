package train

import (
	"fmt"
	"math"
	"strings"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/data"
)

// Recipe is a named way to train a model from scratch: the options of the
// run and the model it trains. The model fields that are zero keep the
// reference small ViT's (patch 4, dim 128, depth 6, 4 heads, MLP 512, no
// stem).
type Recipe struct {
	Name    string
	About   string  // one line for help texts
	Options Options // Seed and Replicas are left to the caller
	// DropPath is the model's stochastic depth rate.
	DropPath float32
	// Dim, MLPDim and Depth size the model's encoder; Stem and Patch (in
	// feature-map cells) make it a hybrid (see vit.Config.Stem).
	Dim, MLPDim, Depth int
	Stem               string
	Patch              int
}

// recipes are the named recipes, in the order help texts list them. The
// hyperparameters of default and quick were chosen on Fashion-MNIST (see
// BENCHMARKS.md).
var recipes = []Recipe{
	{
		Name: "default",
		About: "the full Fashion-MNIST recipe: a hybrid ViT (three-convolution stem, depth 4, width 64), " +
			"35 epochs, CutMix for the first 20 (see BENCHMARKS.md)",
		Options: Options{Epochs: 35, Batch: 128, Optimizer: "adamw", LR: 2e-3, MinLR: 1e-5, WarmupSteps: 468,
			WeightDecay: 0.05, ClipNorm: 1, LabelSmoothing: 0.1, LogEvery: 10,
			Augment: data.Augment{PadCrop: 2, HFlip: true},
			// CutMix makes the lowest heads attend locally (the paper's
			// Figure 7); the last 15 epochs on whole images recover the
			// accuracy it costs. BENCHMARKS.md has the runs.
			Mix: data.Mix{CutMix: 1}, MixOffEpoch: 20},
		Dim: 64, MLPDim: 256, Depth: 4, Stem: "32:3:1:ln,64:3:2:ln,128:3:2:ln", Patch: 1,
	},
	{
		Name:  "quick",
		About: "a short recipe: a hybrid ViT (three-convolution stem, depth 2, width 64), 6 epochs, under 10 minutes on 2 cores",
		Options: Options{Epochs: 6, Batch: 64, Optimizer: "adamw", LR: 2e-3, MinLR: 1e-5, WarmupSteps: 200,
			WeightDecay: 0.05, ClipNorm: 1, LabelSmoothing: 0.05, LogEvery: 10,
			Augment: data.Augment{HFlip: true}},
		Dim: 64, MLPDim: 256, Depth: 2, Stem: "32:3:1:ln,64:3:2:ln,128:3:2:ln", Patch: 1,
	},
	{
		Name:  "reference",
		About: "the plain reference small ViT (patch 4, dim 128, depth 6, MLP 512), 100 epochs",
		Options: Options{Epochs: 100, Batch: 128, Optimizer: "adamw", LR: 1e-3, MinLR: 1e-6, WarmupSteps: 2345,
			WeightDecay: 0.05, ClipNorm: 1, LabelSmoothing: 0.1, LogEvery: 10,
			Augment: data.Augment{PadCrop: 2, HFlip: true, RandomErasing: 0.25}},
		DropPath: 0.1,
	},
}

// Recipes returns the named recipes: default, quick and reference.
func Recipes() []Recipe { return append([]Recipe(nil), recipes...) }

// RecipeNames lists the recipes' names for messages: "default, quick or
// reference".
func RecipeNames() string {
	names := make([]string, len(recipes))
	for i, r := range recipes {
		names[i] = r.Name
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// LookupRecipe returns the recipe called name, or an error that lists the
// recipes.
func LookupRecipe(name string) (Recipe, error) {
	for _, r := range recipes {
		if r.Name == name {
			return r, nil
		}
	}
	return Recipe{}, fmt.Errorf("unknown recipe %q: use %s", name, RecipeNames())
}

// Config returns the recipe's model for images of side image with the given
// channels and classes (a dataset's): the reference small ViT with the
// recipe's width, depth, stem and stochastic depth.
func (r Recipe) Config(image, channels, classes int) (vit.Config, error) {
	c := vit.Config{ImageHeight: image, ImageWidth: image, Channels: channels, Classes: classes,
		Patch: 4, Dim: 128, Depth: 6, Heads: 4, MLPDim: 512, DropPath: r.DropPath}
	set := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	set(&c.Dim, r.Dim)
	set(&c.MLPDim, r.MLPDim)
	set(&c.Depth, r.Depth)
	if r.Stem != "" {
		stem, err := vit.ParseStem(r.Stem)
		if err != nil {
			return c, fmt.Errorf("recipe %s: %w", r.Name, err)
		}
		c.Stem = stem
		set(&c.Patch, r.Patch)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("recipe %s: %w", r.Name, err)
	}
	return c, nil
}

// TotalSteps returns the length of a run of o that trains on trainImages
// images (the validation split left out), in optimizer steps: Steps when
// set, else Epochs full batches per epoch.
func (o Options) TotalSteps(trainImages int) int {
	if o.Steps > 0 {
		return o.Steps
	}
	return o.Epochs * (trainImages / o.Batch)
}

// Fit adapts o, the recipe's options with the caller's changes, to the run
// it describes over a training set of trainImages images, of which
// o.ValidationSize are held out: a run shorter or longer than the recipe's
// keeps the recipe's share of mixed epochs (unless keepMixOff, when the
// caller chose MixOffEpoch), and the warm-up is cut to at most a tenth of
// the run.
func (r Recipe) Fit(o Options, trainImages int, keepMixOff bool) Options {
	trainImages -= o.ValidationSize
	total := o.TotalSteps(trainImages)
	if !keepMixOff && o.MixOffEpoch > 0 && r.Options.Epochs > 0 {
		epochs := float64(total) / float64(max(1, trainImages/o.Batch))
		o.MixOffEpoch = max(1, int(math.Round(epochs*float64(r.Options.MixOffEpoch)/float64(r.Options.Epochs))))
	}
	o.WarmupSteps = min(o.WarmupSteps, total/10)
	return o
}

// fillFromData gives m what a model trained on d needs to be used alone
// later, where its config leaves it unset: the class names of d (when
// their number is the model's) and the per-channel mean and standard
// deviation of d's pixels, which become the model's input normalisation.
// A model meant to take unnormalised pixels says so with Mean {0} and Std
// {1}.
func fillFromData(m vit.Network, d *data.Dataset) {
	c := m.Spec()
	if c.Labels == nil && len(d.Classes) == c.Classes {
		c.Labels = append([]string(nil), d.Classes...)
	}
	if c.Mean == nil && c.Std == nil {
		norm := data.ComputeNormalize(d)
		c.Mean, c.Std = norm.Mean, norm.Std
	}
}
