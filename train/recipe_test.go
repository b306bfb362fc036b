package train

import (
	"reflect"
	"testing"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/data"
)

// The recipes keep the hyperparameters they had in cmd/vit, where
// BENCHMARKS.md's runs were made.
func TestRecipes(t *testing.T) {
	want := map[string]Recipe{
		"default": {Options: Options{Epochs: 35, Batch: 128, Optimizer: "adamw", LR: 2e-3, MinLR: 1e-5, WarmupSteps: 468,
			WeightDecay: 0.05, ClipNorm: 1, LabelSmoothing: 0.1, LogEvery: 10,
			Augment: data.Augment{PadCrop: 2, HFlip: true}, Mix: data.Mix{CutMix: 1}, MixOffEpoch: 20},
			Dim: 64, MLPDim: 256, Depth: 4, Stem: "32:3:1:ln,64:3:2:ln,128:3:2:ln", Patch: 1},
		"quick": {Options: Options{Epochs: 6, Batch: 64, Optimizer: "adamw", LR: 2e-3, MinLR: 1e-5, WarmupSteps: 200,
			WeightDecay: 0.05, ClipNorm: 1, LabelSmoothing: 0.05, LogEvery: 10, Augment: data.Augment{HFlip: true}},
			Dim: 64, MLPDim: 256, Depth: 2, Stem: "32:3:1:ln,64:3:2:ln,128:3:2:ln", Patch: 1},
		"reference": {Options: Options{Epochs: 100, Batch: 128, Optimizer: "adamw", LR: 1e-3, MinLR: 1e-6, WarmupSteps: 2345,
			WeightDecay: 0.05, ClipNorm: 1, LabelSmoothing: 0.1, LogEvery: 10,
			Augment: data.Augment{PadCrop: 2, HFlip: true, RandomErasing: 0.25}}, DropPath: 0.1},
	}
	if got := RecipeNames(); got != "default, quick or reference" {
		t.Errorf("RecipeNames() = %q", got)
	}
	if len(Recipes()) != len(want) {
		t.Fatalf("%d recipes, want %d", len(Recipes()), len(want))
	}
	for name, w := range want {
		r, err := LookupRecipe(name)
		if err != nil {
			t.Fatal(err)
		}
		if r.Name != name || r.About == "" {
			t.Errorf("%s: name %q, about %q", name, r.Name, r.About)
		}
		r.Name, r.About = "", ""
		if !reflect.DeepEqual(r, w) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, r, w)
		}
		if err := r.Options.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := LookupRecipe("fast"); err == nil {
		t.Error("unknown recipe accepted")
	}
}

func TestRecipeConfig(t *testing.T) {
	q, _ := LookupRecipe("quick")
	c, err := q.Config(28, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	if vit.FormatStem(c.Stem) != q.Stem || c.Patch != 1 || c.Dim != 64 || c.MLPDim != 256 || c.Depth != 2 || c.Heads != 4 || c.DropPath != 0 {
		t.Errorf("quick model: %+v", c)
	}
	r, _ := LookupRecipe("reference")
	if c, err = r.Config(28, 1, 10); err != nil {
		t.Fatal(err)
	}
	if c.Stem != nil || c.Patch != 4 || c.Dim != 128 || c.MLPDim != 512 || c.Depth != 6 || c.Heads != 4 || c.DropPath != 0.1 {
		t.Errorf("reference model: %+v", c)
	}
}

// Fit keeps the default recipe's share of mixed epochs (20 of 35) in a
// shorter run unless told to keep the caller's, and cuts the warm-up to a
// tenth of the run.
func TestRecipeFit(t *testing.T) {
	r, _ := LookupRecipe("default")
	o := r.Options
	o.Epochs = 10
	f := r.Fit(o, 60000, false)
	if f.MixOffEpoch != 6 || f.WarmupSteps != 468 { // round(10·20/35) = 6; 10·468 steps is long enough
		t.Errorf("10 epochs: mix off after %d, warm-up %d; want 6, 468", f.MixOffEpoch, f.WarmupSteps)
	}
	o.ValidationSize = 5000 // held out: 10 epochs of 55,000 images are 4,290 steps
	if f := r.Fit(o, 60000, false); f.MixOffEpoch != 6 || f.WarmupSteps != 429 {
		t.Errorf("10 epochs less 5,000 validation images: mix off after %d, warm-up %d; want 6, 429", f.MixOffEpoch, f.WarmupSteps)
	}
	o.ValidationSize = 0
	if f := r.Fit(o, 60000, true); f.MixOffEpoch != 20 {
		t.Errorf("kept mix-off epoch became %d", f.MixOffEpoch)
	}
	o.Steps = 30
	f = r.Fit(o, 60000, false)
	if f.MixOffEpoch != 1 || f.WarmupSteps != 3 {
		t.Errorf("30 steps: mix off after %d, warm-up %d; want 1, 3", f.MixOffEpoch, f.WarmupSteps)
	}
	if n := o.TotalSteps(60000); n != 30 {
		t.Errorf("TotalSteps %d", n)
	}
	o.Steps = 0
	if n := o.TotalSteps(60000); n != 10*468 {
		t.Errorf("TotalSteps %d", n)
	}
}

// New gives a model without labels or normalisation the training set's.
func TestNewFillsFromData(t *testing.T) {
	trainSet, testSet, err := data.Open("embedded")
	if err != nil {
		t.Fatal(err)
	}
	c := vit.Config{ImageHeight: 28, ImageWidth: 28, Channels: 1, Patch: 7, Dim: 16, Depth: 1, Heads: 2, MLPDim: 32, Classes: 10}
	m, err := vit.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := LookupRecipe("quick")
	if _, err := New(m, trainSet, testSet, q.Options, ""); err != nil {
		t.Fatal(err)
	}
	norm := data.ComputeNormalize(trainSet)
	if !reflect.DeepEqual(m.Config.Labels, trainSet.Classes) || !reflect.DeepEqual(m.Config.Mean, norm.Mean) || !reflect.DeepEqual(m.Config.Std, norm.Std) {
		t.Fatalf("labels %v mean %v std %v; want %v %v %v", m.Config.Labels, m.Config.Mean, m.Config.Std, trainSet.Classes, norm.Mean, norm.Std)
	}
	// A model's own settings stay.
	c.Mean, c.Std, c.Labels = []float32{0}, []float32{1}, []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	m, _ = vit.New(c, 1)
	if _, err := New(m, trainSet, testSet, q.Options, ""); err != nil {
		t.Fatal(err)
	}
	if m.Config.Mean[0] != 0 || m.Config.Std[0] != 1 || m.Config.Labels[0] != "a" {
		t.Fatalf("New replaced the model's own settings: %+v", m.Config)
	}
}
