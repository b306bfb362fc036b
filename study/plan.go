// Package study runs the paper's experiments about inductive bias at a
// scale one machine can train, each as one plan of training runs with a
// report at the end:
//
//   - data-size (the paper's Figures 3 and 4): a ViT, a hybrid and a ResNet
//     of similar cost trained on growing random subsets of the training
//     set (several seeds at the small sizes), each scored on the full test
//     set: where does the CNN's advantage shrink?
//   - compute (Figure 5): several sizes of each family trained on all the
//     training images, test accuracy against training FLOPs (counted by
//     the engine: 3 × Config.FLOPs per image seen) with each family's
//     Pareto front.
//   - pos-embed (Table 8): the five position embeddings of
//     vit.PosEmbeds on one ViT and recipe.
//
// Recipes are chosen on a validation split held out of the training images
// (the last of each class, as train.Options.ValidationSize holds them out),
// never on the test set: with the full budget every point is trained at
// two learning rates, and the one with the better validation accuracy is
// the point's result (Result.Selected). A study writes study.json (every
// finished run) and study.html (the plots) into its folder after every
// run, atomically, and resumes where it stopped: finished runs are kept,
// and an interrupted run continues from its last checkpoint (each run
// trains in a run folder of its own under runs/).
package study

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/resnet"
	"github.com/vitgo/vit/train"
)

// Kinds are the studies Run knows.
var Kinds = []string{"data-size", "compute", "pos-embed"}

// Budgets are the plan sizes: quick (about 20 minutes of compute on two
// cores, see Plan.TrainFLOPs) and full (a few hours).
var Budgets = []string{"quick", "full"}

// Options shape a study's plan.
type Options struct {
	Budget string // "quick" (default) or "full"
	// Sizes are data-size's training-set sizes (default: 1000, 3000, 10000
	// for quick; 1000, 3000, 10000, 30000 and all for full). Sizes larger
	// than the training images left after the validation split are cut to
	// them.
	Sizes []int
	// Steps, if > 0, replaces every run's length in optimizer steps (tests
	// run tiny plans).
	Steps int
	// Batch, if > 0, replaces every run's batch size.
	Batch int
	// Seeds, if > 0, replaces the number of seeds of every point (by
	// default data-size trains two at 1000 images and fewer (three with
	// the full budget, and two up to 3000), compute one, pos-embed four
	// (quick) or two (full, with two learning rates)).
	Seeds int
	// Validation, if > 0, replaces the validation split's size (default:
	// 1000 images for quick, 5000 for full, at most a tenth of the data).
	Validation int
	// Progress, if not nil, is called after every optimizer step of the
	// plan and once before the first.
	Progress func(Progress)
}

// Progress is where a study stands: steps done of the whole plan's steps
// (finished runs counted), and the run in progress.
type Progress struct {
	Done, Total int
	Run         string // the run's ID
	Index, Runs int    // 1-based index of the run in the plan, and the plan's length
}

// Spec is one planned run.
type Spec struct {
	ID     string `json:"id"`     // unique within the plan; names its run folder
	Family string `json:"family"` // vit, hybrid or resnet
	// Point names what the run measures within its family: the subset
	// size (data-size), the model size (compute) or the position embedding
	// (pos-embed).
	Point   string        `json:"point"`
	Config  vit.Config    `json:"config"`
	Options train.Options `json:"options"`
	Images  int           `json:"images"` // training images (the subset, validation split excluded)
}

// Plan is a study's runs in the order they are trained.
type Plan struct {
	Kind, Budget string
	Validation   int // images held out of the training set
	Specs        []Spec
}

// family is a model of one family, named for the plots.
type family struct {
	name, size string
	config     vit.Config
}

// The families at the reference cost (about 20 MFLOPs and 0.2M parameters
// per 28×28 image): a ViT with 4×4 patches, a hybrid whose three
// convolutions give the same 7×7 grid of tokens, and a ResNet-26 of width 8.
func vitConfig(dim, depth int) vit.Config {
	return vit.Config{Patch: 4, Dim: dim, Depth: depth, Heads: 4, MLPDim: 4 * dim}
}

func hybridConfig(dim, depth int) vit.Config {
	stem, _ := vit.ParseStem("16:3:1:ln,32:3:2:ln,64:3:2:ln")
	return vit.Config{Stem: stem, Patch: 1, Dim: dim, Depth: depth, Heads: 4, MLPDim: 4 * dim}
}

func resnetConfig(depth, width int) vit.Config { return resnet.Config(depth, width, 0, 0, 0) }

// reference is each family's model of the data-size study.
func reference() []family {
	return []family{
		{"vit", "ViT d64 L4", vitConfig(64, 4)},
		{"hybrid", "hybrid d64 L4", hybridConfig(64, 4)},
		{"resnet", "ResNet-26 w8", resnetConfig(26, 8)},
	}
}

// ladder is each family's sizes of the compute study, smallest first.
func ladder(budget string) []family {
	fs := []family{
		{"vit", "ViT d32 L2", vitConfig(32, 2)},
		{"vit", "ViT d64 L4", vitConfig(64, 4)},
		{"vit", "ViT d96 L6", vitConfig(96, 6)},
		{"hybrid", "hybrid d32 L2", hybridConfig(32, 2)},
		{"hybrid", "hybrid d64 L4", hybridConfig(64, 4)},
		{"hybrid", "hybrid d96 L6", hybridConfig(96, 6)},
		{"resnet", "ResNet-26 w4", resnetConfig(26, 4)},
		{"resnet", "ResNet-26 w8", resnetConfig(26, 8)},
		{"resnet", "ResNet-26 w12", resnetConfig(26, 12)},
	}
	if budget == "full" {
		fs = append(fs,
			family{"vit", "ViT d128 L6", vitConfig(128, 6)},
			family{"hybrid", "hybrid d128 L6", hybridConfig(128, 6)},
			family{"resnet", "ResNet-50 w16", resnetConfig(50, 16)})
	}
	return fs
}

// quickSteps are each study's run length with the quick budget, in steps
// of 64 images, so that each plan takes about 20 minutes on two cores
// (from the times of 250-step runs on a Zen 5: 390, 288 and 46 s for the
// three plans): fewer images a run than the full budget's 800 steps of
// 128 (102,400 images).
var quickSteps = map[string]int{"data-size": 750, "compute": 1000, "pos-embed": 1250}

// recipe is every run's training options: AdamW under a warm-up and
// cosine, label smoothing, flips, for a fixed number of steps whatever the
// data size (as the paper pre-trains its subsets for the same number of
// steps): quickSteps of 64 images (quick; for data-size 48,000 images,
// 48 epochs of 1000 images, under one epoch of all), or 800 of 128
// (full).
func recipe(kind, budget string, lr float32, seed uint64) train.Options {
	steps := quickSteps[kind]
	o := train.Options{Steps: steps, Batch: 64, Optimizer: "adamw", LR: lr, MinLR: 1e-5, WarmupSteps: steps / 10,
		WeightDecay: 0.05, ClipNorm: 1, LabelSmoothing: 0.1, Augment: data.Augment{HFlip: true}, Seed: seed,
		Replicas: 2, LogEvery: 10}
	if budget == "full" {
		o.Steps, o.Batch, o.WarmupSteps = 800, 128, 80
	}
	return o
}

// learningRates are the recipes the validation split chooses among.
func learningRates(budget string) []float32 {
	if budget == "full" {
		return []float32{1e-3, 3e-3}
	}
	return []float32{2e-3}
}

// NewPlan lays out study kind for a training set of trainImages images of
// side×side pixels with the given channels and classes.
func NewPlan(kind string, o Options, trainImages, height, width, channels, classes int) (*Plan, error) {
	budget := o.Budget
	if budget == "" {
		budget = "quick"
	}
	if !slices.Contains(Budgets, budget) {
		return nil, fmt.Errorf("budget must be one of %v, got %q", Budgets, budget)
	}
	if !slices.Contains(Kinds, kind) {
		return nil, fmt.Errorf("study must be one of %v, got %q", Kinds, kind)
	}
	val := o.Validation
	if val <= 0 {
		val = map[string]int{"quick": 1000, "full": 5000}[budget]
	}
	val = min(val, trainImages/10)
	pool := trainImages - val
	if pool < 1 || val < 1 {
		return nil, fmt.Errorf("a study needs at least 10 training images, got %d", trainImages)
	}
	p := &Plan{Kind: kind, Budget: budget, Validation: val}
	seeds := func(n int) []uint64 { // more seeds at the small sizes, where runs vary most
		switch {
		case o.Seeds > 0:
			s := make([]uint64, o.Seeds)
			for i := range s {
				s[i] = uint64(i + 1)
			}
			return s
		case kind == "pos-embed" && budget == "full":
			return []uint64{1, 2} // and two learning rates
		case kind == "pos-embed":
			return []uint64{1, 2, 3, 4} // the embeddings differ little: four seeds
		case kind != "data-size":
			return []uint64{1}
		case budget == "full" && n <= 1000:
			return []uint64{1, 2, 3}
		case n <= 1000 || budget == "full" && n <= 3000:
			return []uint64{1, 2}
		}
		return []uint64{1}
	}
	add := func(f family, point string, images int, edit func(*vit.Config)) error {
		c := f.config
		c.ImageHeight, c.ImageWidth, c.Channels, c.Classes = height, width, channels, classes
		if edit != nil {
			edit(&c)
		}
		if err := c.Validate(); err != nil {
			return fmt.Errorf("study %s, %s: %w", kind, f.size, err)
		}
		for _, lr := range learningRates(budget) {
			for _, seed := range seeds(images) {
				opt := recipe(kind, budget, lr, seed)
				if o.Steps > 0 {
					opt.Steps, opt.WarmupSteps = o.Steps, min(opt.WarmupSteps, o.Steps/10)
				}
				if o.Batch > 0 {
					opt.Batch = o.Batch
				}
				opt.Batch = min(opt.Batch, images)
				id := fmt.Sprintf("%s-%s-lr%g-seed%d", f.name, strings.ReplaceAll(point, " ", "_"), lr, seed)
				p.Specs = append(p.Specs, Spec{ID: id, Family: f.name, Point: point, Config: c, Options: opt, Images: images})
			}
		}
		return nil
	}
	switch kind {
	case "data-size":
		sizes := o.Sizes
		if len(sizes) == 0 {
			sizes = []int{1000, 3000, 10000}
			if budget == "full" {
				sizes = []int{1000, 3000, 10000, 30000, pool}
			}
		}
		seen := map[int]bool{}
		for _, n := range sizes {
			if n < 1 {
				return nil, fmt.Errorf("data sizes must be positive, got %d", n)
			}
			if n = min(n, pool); seen[n] {
				continue
			}
			seen[n] = true
			for _, f := range reference() {
				if err := add(f, fmt.Sprint(n), n, nil); err != nil {
					return nil, err
				}
			}
		}
	case "compute":
		for _, f := range ladder(budget) {
			if err := add(f, f.size, pool, nil); err != nil {
				return nil, err
			}
		}
	case "pos-embed":
		for _, pe := range vit.PosEmbeds {
			if err := add(reference()[0], pe, pool, func(c *vit.Config) { c.PosEmbed = pe }); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// TrainFLOPs is the plan's compute: every run's training steps at three
// times the forward FLOPs per image, plus scoring the validation split and
// a test set of testImages images once per run.
func (p *Plan) TrainFLOPs(testImages int) float64 {
	var f float64
	for _, s := range p.Specs {
		fl := float64(s.Config.FLOPs())
		f += 3*fl*float64(s.Options.Steps*s.Options.Batch) + fl*float64(p.Validation+testImages)
	}
	return f
}

// Steps is the plan's optimizer steps.
func (p *Plan) Steps() int {
	n := 0
	for _, s := range p.Specs {
		n += s.Options.Steps
	}
	return n
}
