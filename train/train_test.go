package train

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/kernels"
)

func tinyModel(t *testing.T, ds *data.Dataset, seed uint64) *vit.Model {
	t.Helper()
	norm := data.FashionMNISTNorm
	c := vit.Config{ImageHeight: ds.H, ImageWidth: ds.W, Channels: ds.C, Patch: 7, Dim: 32, Depth: 2, Heads: 2, MLPDim: 64,
		Classes: len(ds.Classes), Labels: ds.Classes, Mean: norm.Mean, Std: norm.Std, Dropout: 0.1, DropPath: 0.1}
	m, err := vit.New(c, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestHybridLearnsFashionMNIST trains a small hybrid (a two-convolution
// stem, 1×1 patches of its 7×7 map) on real images, with the settings of
// TestLearnsFashionMNIST.
func TestHybridLearnsFashionMNIST(t *testing.T) {
	train, test, o := learningSetup(t)
	m := tinyModel(t, train, 2)
	c := m.Config
	c.Stem = []vit.StemConv{{Channels: 16, Kernel: 3, Stride: 2, Norm: true}, {Channels: 32, Kernel: 3, Stride: 2, Norm: true}}
	c.Patch, c.Dropout, c.DropPath = 1, 0, 0
	m, err := vit.New(c, 2)
	if err != nil {
		t.Fatal(err)
	}
	learn(t, m, train, test, o, 0.70)
}

// learningSetup gives the learning tests real Fashion-MNIST (the
// embedded subset when it is not installed), 2,000 test images, and 300
// steps of AdamW without augmentation or label smoothing.
func learningSetup(t *testing.T) (train, test *data.Dataset, o Options) {
	train, test, err := data.Open("") // installed or embedded: never a download
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(train.Name, data.EmbeddedName) {
		t.Log("installed Fashion-MNIST not found; using the embedded subset")
	}
	test = test.Subset(seq(min(2000, test.N)))
	o = recipe()
	o.Steps, o.Batch, o.LR, o.WarmupSteps = 300, 64, 3e-3, 20
	o.Augment, o.LabelSmoothing = data.Augment{}, 0
	return train, test, o
}

// learn trains m with o and fails unless the test accuracy reaches want.
func learn(t *testing.T, m *vit.Model, train, test *data.Dataset, o Options, want float64) (*Trainer, Result) {
	t.Helper()
	tr, err := New(m, train, test, o, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d steps: test accuracy %.3f, loss %.3f, %.0f images/s", r.Steps, r.TestAccuracy, r.TestLoss, r.ImagesPerS)
	if r.TestAccuracy < want {
		t.Fatalf("test accuracy %.3f after %d steps, want ≥ %.2f", r.TestAccuracy, r.Steps, want)
	}
	return tr, r
}

func recipe() Options {
	return Options{Epochs: 2, Batch: 32, Optimizer: "adamw", LR: 2e-3, MinLR: 1e-5, WarmupSteps: 5, WeightDecay: 0.05,
		ClipNorm: 1, LabelSmoothing: 0.1, Augment: data.Augment{PadCrop: 2, HFlip: true}, Seed: 9}
}

// TestResumeIsExact stops a run mid-epoch, resumes it from its folder and
// checks that the weights equal those of an uninterrupted run, bit for bit.
// The run mixes its batches (Mixup and CutMix), whose draws must resume too.
func TestResumeIsExact(t *testing.T) {
	train, test := data.Embedded()
	train = train.Subset(seq(200))
	test = test.Subset(seq(50))
	mixed := func() Options {
		o := recipe()
		o.Mix = data.Mix{Mixup: 0.8, CutMix: 1}
		o.MixOffEpoch = 1 // of 2: the stop at step 9 falls in the unmixed epoch
		return o
	}

	whole := filepath.Join(t.TempDir(), "whole")
	tr, err := New(tinyModel(t, train, 1), train, test, mixed(), whole)
	if err != nil {
		t.Fatal(err)
	}
	want, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	split := filepath.Join(t.TempDir(), "split")
	o := mixed()
	o.StopAt = 9 // mid-epoch: 6 batches per epoch
	tr, err = New(tinyModel(t, train, 1), train, test, o, split)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := tr.Run(context.Background()); err != nil || r.Finished || r.Steps != 9 {
		t.Fatalf("stopped run: %+v, %v", r, err)
	}
	// A line torn by a crash, and a line past the checkpoint, are cut off.
	f, err := os.OpenFile(filepath.Join(split, metricsFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"type":"step","step":10}` + "\n" + `{"type":"st`)
	f.Close()
	tr, err = Resume(split, train, test)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !got.Finished || got.Steps != want.Steps || got.TestAccuracy != want.TestAccuracy {
		t.Fatalf("resumed run %+v, uninterrupted %+v", got, want)
	}
	a, err := checkpoint.Load(whole)
	if err != nil {
		t.Fatal(err)
	}
	b, err := checkpoint.Load(split)
	if err != nil {
		t.Fatal(err)
	}
	pa, pb := a.Params(), b.Params()
	for i := range pa {
		for j := range pa[i].Data {
			if pa[i].Data[j] != pb[i].Data[j] {
				t.Fatalf("%s[%d]: resumed %v, uninterrupted %v", pa[i].Name, j, pb[i].Data[j], pa[i].Data[j])
			}
		}
	}
	// Only the latest checkpoint is kept.
	dirs, _ := filepath.Glob(filepath.Join(split, "ckpt-*"))
	if len(dirs) != 1 {
		t.Fatalf("run folder holds %v, want one checkpoint", dirs)
	}
	sameRuns(t, whole, split)
}

// TestLearnsFashionMNIST trains a tiny model on real Fashion-MNIST images
// for a few hundred steps and checks it learned far beyond chance (10%).
func TestLearnsFashionMNIST(t *testing.T) {
	train, test, o := learningSetup(t)
	m := tinyModel(t, train, 2)
	m.Config.Dropout, m.Config.DropPath = 0, 0
	tr, r := learn(t, m, train, test, o, 0.65)
	ev, err := Evaluate(tr.Model, test, 100)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, row := range ev.Confusion {
		for _, v := range row {
			total += v
		}
	}
	if total != test.N || ev.Accuracy != r.TestAccuracy {
		t.Fatalf("confusion holds %d images of %d; accuracy %v vs %v", total, test.N, ev.Accuracy, r.TestAccuracy)
	}

	// The same trained model in bfloat16: the top class must agree with
	// float32 on ≥ 99.5% of real test images, and logits stay within 3% of
	// each image's largest logit (bf16 keeps 8 significant bits).
	ag, scores, err := CompareDType(tr.Model.(*vit.Model), test, 100, kernels.BF16)
	if err != nil {
		t.Fatal(err)
	}
	if scores.N != test.N || scores.Accuracy != ag.AccuracyDT {
		t.Fatalf("bf16 pass scored %d images at %v, agreement says %v", scores.N, scores.Accuracy, ag.AccuracyDT)
	}
	t.Logf("bf16 vs fp32 on %d images: top-1 agreement %.4f, max |Δlogit| %.4f (%.4f of the image's largest), accuracy %.4f vs %.4f",
		ag.N, ag.Top1, ag.MaxLogitDiff, ag.RelLogitDiff, ag.AccuracyDT, ag.AccuracyF32)
	if ag.Top1 < 0.995 || ag.RelLogitDiff > 0.03 || ag.AccuracyF32 != r.TestAccuracy {
		t.Fatalf("bf16: top-1 agreement %.4f (want ≥ 0.995), relative logit difference %.4f (want ≤ 0.03), fp32 accuracy %v (want %v)",
			ag.Top1, ag.RelLogitDiff, ag.AccuracyF32, r.TestAccuracy)
	}
}

func TestBadShapes(t *testing.T) {
	train, test := data.Embedded()
	c := vit.Config{ImageHeight: 32, ImageWidth: 32, Channels: 1, Patch: 4, Dim: 8, Depth: 1, Heads: 1, MLPDim: 8, Classes: 10}
	m, _ := vit.New(c, 1)
	if _, err := New(m, train, test, recipe(), ""); err == nil {
		t.Fatal("28×28 data on a 32×32 model gave no error")
	}
	if _, err := Resume(t.TempDir(), train, test); err == nil {
		t.Fatal("resuming an empty folder gave no error")
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func TestMixOffEpoch(t *testing.T) {
	on := Options{Mix: data.Mix{CutMix: 1}}
	off := on
	off.MixOffEpoch = 3
	for _, tc := range []struct {
		o     Options
		epoch int
		want  bool
	}{{Options{}, 0, false}, {on, 0, true}, {on, 99, true}, {off, 0, true}, {off, 2, true}, {off, 3, false}, {off, 10, false}} {
		if got := tc.o.mixes(tc.epoch); got != tc.want {
			t.Errorf("Mix %+v, off after %d epochs: epoch %d mixes = %v, want %v", tc.o.Mix, tc.o.MixOffEpoch, tc.epoch, got, tc.want)
		}
	}
	if (Options{Batch: 1, Epochs: 1, Optimizer: "adamw", LR: 1, MixOffEpoch: -1}).Validate() == nil {
		t.Error("a negative mix-off epoch is accepted")
	}
}

// Options.Validate refuses NaN, infinite and out-of-range numbers, which
// would otherwise train silently on NaN (a NaN learning rate passed "≤ 0").
func TestOptionsRefuseNonFinite(t *testing.T) {
	good := Options{Batch: 1, Epochs: 1, Optimizer: "sgd", LR: 1, MinLR: 1e-5, Momentum: 0.9, ClipNorm: 1, LabelSmoothing: 0.1, WarmupSteps: 5}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for name, bad := range map[string]func(o *Options){
		"LR NaN": func(o *Options) { o.LR = nan }, "LR Inf": func(o *Options) { o.LR = inf },
		"MinLR NaN": func(o *Options) { o.MinLR = nan }, "MinLR -1": func(o *Options) { o.MinLR = -1 },
		"WeightDecay NaN": func(o *Options) { o.WeightDecay = nan }, "WeightDecay -1": func(o *Options) { o.WeightDecay = -1 },
		"Momentum NaN": func(o *Options) { o.Momentum = nan }, "Momentum 1": func(o *Options) { o.Momentum = 1 },
		"ClipNorm NaN": func(o *Options) { o.ClipNorm = math.NaN() }, "ClipNorm -1": func(o *Options) { o.ClipNorm = -1 },
		"LabelSmoothing NaN": func(o *Options) { o.LabelSmoothing = nan }, "LabelSmoothing 1": func(o *Options) { o.LabelSmoothing = 1 },
		"WarmupSteps -1": func(o *Options) { o.WarmupSteps = -1 }, "EvalBatch -1": func(o *Options) { o.EvalBatch = -1 },
		"LogEvery -1": func(o *Options) { o.LogEvery = -1 },
	} {
		o := good
		bad(&o)
		if o.Validate() == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
