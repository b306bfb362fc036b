package train_test

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/kernels"
	"github.com/vitgo/vit/resnet"
	"github.com/vitgo/vit/train"
)

// roundTripOption is one model option a resumed run must keep.
type roundTripOption struct {
	name string
	edit func(*vit.Config)
	pack bool // compare the logits through bf16-packed weights
}

func roundTripOptions() []roundTripOption {
	performer := func(c *vit.Config) { c.Attention = "performer"; c.Features = 12 }
	return []roundTripOption{
		{name: "softmax", edit: func(*vit.Config) {}},
		{name: "performer", edit: performer},
		// Redrawn at steps 2 and 4: the stop at step 3 falls between.
		{name: "performer-redraw", edit: func(c *vit.Config) { performer(c); c.RedrawEvery = 2 }},
		{name: "gap", edit: func(c *vit.Config) { c.Pool = "gap" }},
		{name: "sincos", edit: func(c *vit.Config) { c.PosEmbed = "sincos" }},
		{name: "learned-2d", edit: func(c *vit.Config) { c.PosEmbed = "learned-2d" }},
		{name: "relative", edit: func(c *vit.Config) { c.PosEmbed = "relative" }},
		{name: "hybrid", edit: func(c *vit.Config) {
			c.Stem = []vit.StemConv{{Channels: 4, Kernel: 3, Stride: 2, Norm: true}, {Channels: 6, Kernel: 1, Stride: 1}}
			c.Patch = 2
		}},
		{name: "dropout", edit: func(c *vit.Config) { c.Dropout = 0.1; c.AttentionDropout = 0.1; c.DropPath = 0.2 }},
		{name: "bf16", edit: func(*vit.Config) {}, pack: true},
	}
}

// synthetic returns n random 3×8×12 images in 3 classes.
func synthetic(n int, seed uint64) *data.Dataset {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := &data.Dataset{Name: "synthetic", N: n, C: 3, H: 8, W: 12, Classes: []string{"a", "b", "c"}}
	d.Pixels = make([]uint8, n*d.ImageSize())
	for i := range d.Pixels {
		d.Pixels[i] = uint8(rng.IntN(256))
	}
	d.Labels = make([]int, n)
	for i := range d.Labels {
		d.Labels[i] = rng.IntN(3)
	}
	return d
}

func roundTripModel(t *testing.T, o roundTripOption) *vit.Model {
	t.Helper()
	c := vit.Config{ImageHeight: 8, ImageWidth: 12, Channels: 3, Patch: 4, Dim: 8, Depth: 2, Heads: 2, MLPDim: 16,
		Classes: 3, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.25, 0.25, 0.25}}
	o.edit(&c)
	m, err := vit.New(c, 5)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func roundTripOptionsFor(stopAt int) train.Options {
	return train.Options{Steps: 6, Batch: 8, Optimizer: "adamw", LR: 1e-2, MinLR: 1e-4, WarmupSteps: 2, WeightDecay: 0.05,
		ClipNorm: 1, LabelSmoothing: 0.1, Seed: 3, Replicas: 2, StopAt: stopAt}
}

// probeLogits returns m's logits on fixed images, through bf16-packed
// weights when pack is set.
func probeLogits(t *testing.T, m *vit.Model, pack bool) []float32 {
	t.Helper()
	if pack {
		m.PackWeights(kernels.BF16)
		defer m.UnpackWeights()
	}
	c := m.Config
	rng := rand.New(rand.NewPCG(8, 9))
	x := make([]float32, 4*c.Channels*c.ImageHeight*c.ImageWidth)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	out, err := m.Predict(x, 4)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %v, want %v (bit for bit)", what, i, got[i], want[i])
		}
	}
}

func sameModel(t *testing.T, what string, got, want vit.Network) {
	t.Helper()
	a, b := want.Params(), got.Params()
	if len(a) != len(b) {
		t.Fatalf("%s: %d tensors, want %d", what, len(b), len(a))
	}
	for i := range a {
		if a[i].Name != b[i].Name {
			t.Fatalf("%s: tensor %d is %s, want %s", what, i, b[i].Name, a[i].Name)
		}
		sameBits(t, what+": "+a[i].Name, b[i].Data, a[i].Data)
	}
}

// TestResumeRoundTrip stops a run after 3 of 6 steps, saving its run
// folder, and resumes it with train.Resume, for every model option: the
// resumed model must equal the stopped one, and after the remaining steps
// every tensor (Performer features included) and the logits must equal
// those of an uninterrupted run, bit for bit. A Performer run redrawing
// its features every 2 steps used to resume with the features of seed 0.
func TestResumeRoundTrip(t *testing.T) {
	trainSet, testSet := synthetic(40, 1), synthetic(8, 2)
	for _, o := range roundTripOptions() {
		t.Run(o.name, func(t *testing.T) {
			run := func(stopAt int, dir string) *train.Trainer {
				tr, err := train.New(roundTripModel(t, o), trainSet, testSet, roundTripOptionsFor(stopAt), dir)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tr.Run(context.Background()); err != nil {
					t.Fatal(err)
				}
				return tr
			}
			whole := run(0, filepath.Join(t.TempDir(), "whole"))
			split := filepath.Join(t.TempDir(), "split")
			stopped := run(3, split)
			if stopped.Step() != 3 {
				t.Fatalf("stopped after %d steps, want 3", stopped.Step())
			}
			resumed, err := train.Resume(split, trainSet, testSet)
			if err != nil {
				t.Fatal(err)
			}
			sameModel(t, "resumed", resumed.Model, stopped.Model)
			sameBits(t, "logits after resuming", probeLogits(t, resumed.Model.(*vit.Model), o.pack), probeLogits(t, stopped.Model.(*vit.Model), o.pack))
			if _, err := resumed.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if resumed.Step() != 6 {
				t.Fatalf("resumed run ended after %d steps, want 6", resumed.Step())
			}
			sameModel(t, "resumed run", resumed.Model, whole.Model)
			sameBits(t, "logits of the resumed run", probeLogits(t, resumed.Model.(*vit.Model), o.pack), probeLogits(t, whole.Model.(*vit.Model), o.pack))
		})
	}
}

// TestResumeRoundTripResNet is TestResumeRoundTrip for the CNN baseline:
// package train drives a resnet.Model through vit.Network (two replicas),
// saves it in the run folder and resumes it bit for bit; the trained
// model's logits and test score come back from its checkpoint.
func TestResumeRoundTripResNet(t *testing.T) {
	trainSet, testSet := synthetic(40, 1), synthetic(8, 2)
	newNet := func() vit.Network {
		c := resnet.Config(26, 4, 8, 3, 3)
		c.ImageWidth = 12
		m, err := resnet.New(c, 5)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	run := func(stopAt int, dir string) *train.Trainer {
		tr, err := train.New(newNet(), trainSet, testSet, roundTripOptionsFor(stopAt), dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return tr
	}
	whole := run(0, filepath.Join(t.TempDir(), "whole"))
	split := filepath.Join(t.TempDir(), "split")
	run(3, split)
	resumed, err := train.Resume(split, trainSet, testSet)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := resumed.Model.(*resnet.Model); !ok {
		t.Fatalf("resumed a %T, want a *resnet.Model", resumed.Model)
	}
	res, err := resumed.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sameModel(t, "resumed run", resumed.Model, whole.Model)
	if !res.Finished || resumed.Step() != 6 {
		t.Fatalf("resumed run: finished %v after %d steps, want 6", res.Finished, resumed.Step())
	}
	loaded, err := checkpoint.LoadNetwork(split)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 2*3*8*12)
	for i := range x {
		x[i] = float32(i%7) / 7
	}
	got, err := loaded.Predict(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := whole.Model.Predict(x, 2)
	sameBits(t, "logits of the loaded checkpoint", got, want)
	ev, err := train.Evaluate(loaded, testSet, 4)
	if err != nil || ev.Accuracy != res.TestAccuracy {
		t.Fatalf("evaluating the loaded checkpoint: %v, accuracy %v, want the run's %v", err, ev.Accuracy, res.TestAccuracy)
	}
}
