package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/internal/console"
	"github.com/vitgo/vit/train"
)

func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train", "[flags]", stderr)
	var mf modelFlags
	mf.register(fs)
	var (
		dataSpec  = fs.String("data", "", "dataset: a folder (IDX, CIFAR-10 binary, or class folders), fashion-mnist, mnist or embedded (default: installed Fashion-MNIST, else the embedded subset)")
		recipe    = fs.String("recipe", "default", "training recipe: default (hybrid ViT, 35 epochs, CutMix for the first 20, about an hour on 2 cores), quick (hybrid ViT, 6 epochs, under 10 minutes) or reference (the plain reference small ViT, 100 epochs)")
		epochs    = fs.Int("epochs", 0, "epochs (default: the recipe's)")
		steps     = fs.Int("steps", 0, "run length in optimizer steps, instead of epochs")
		batch     = fs.Int("batch", 0, "batch size (default: the recipe's, 128)")
		lr        = fs.Float64("lr", 0, "peak learning rate (default: the recipe's)")
		wd        = fs.Float64("weight-decay", -1, "AdamW weight decay (default: the recipe's)")
		optimizer = fs.String("optimizer", "", "adamw or sgd (default: the recipe's, adamw)")
		seed      = fs.Uint64("seed", 1, "random seed: initialisation, data order, augmentation and dropout")
		out       = fs.String("out", "", "run folder for checkpoints and the metrics log (default: runs/<time>)")
		resume    = fs.String("resume", "", "continue the run in this folder")
		jsonOut   = fs.Bool("json", false, "print the result as one JSON object on stdout")
		augment   = fs.String("augment", "", "augmentation: none, flip (horizontal flips; wrong for digits), crop (random crop with padding), crop-flip (both) (default: the recipe's)")
		cutmix    = fs.Float64("cutmix", 0, "CutMix: α of Beta(α, α) for the share of each image pasted from its partner; 0 disables (default: the recipe's)")
		mixup     = fs.Float64("mixup", 0, "Mixup: α of Beta(α, α) for the blend of each image with its partner; 0 disables (default: the recipe's)")
		mixProb   = fs.Float64("mix-prob", 1, "probability that a batch is mixed by CutMix or Mixup (default: the recipe's)")
		mixOff    = fs.Int("mix-off-epoch", 0, "stop CutMix and Mixup after this many epochs, to end on whole images; 0 never stops (default: the recipe's)")
		replicas  = fs.Int("replicas", 0, "model replicas sharing each batch, one per core (data parallelism); 1 splits every matrix product among the cores instead (default: one per core, at least 8 images each)")
	)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags come before nothing else; see --help)", fs.Arg(0))
	}
	trainSet, testSet, err := data.Open(*dataSpec)
	if err != nil {
		return err
	}
	if *dataSpec == "" && strings.HasPrefix(trainSet.Name, data.EmbeddedName) {
		fmt.Fprintf(stderr, "Fashion-MNIST is not installed: training on the subset embedded in vit (%d train, %d test images).\n"+
			"Install it (apt-get install dataset-fashion-mnist) or pass --data for the full dataset.\n", trainSet.N, testSet.N)
	}

	var tr *train.Trainer
	if *resume != "" {
		if tr, err = train.Resume(*resume, trainSet, testSet); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Resuming %s at step %d.\n", *resume, tr.Step())
	} else {
		r, err := train.LookupRecipe(*recipe)
		if err != nil {
			return err
		}
		o := r.Options
		if *epochs > 0 {
			o.Epochs = *epochs
		}
		if *steps > 0 {
			o.Steps = *steps
		}
		if *batch > 0 {
			o.Batch = *batch
		}
		if *lr > 0 {
			o.LR = float32(*lr)
		}
		if *wd >= 0 {
			o.WeightDecay = float32(*wd)
		}
		if *optimizer != "" {
			o.Optimizer = *optimizer
		}
		if o.Optimizer == "sgd" && o.Momentum == 0 {
			o.Momentum = 0.9
		}
		o.Seed = *seed
		o.Replicas = *replicas
		switch *augment {
		case "":
		case "none":
			o.Augment = data.Augment{}
		case "flip":
			o.Augment = data.Augment{HFlip: true}
		case "crop":
			o.Augment = data.Augment{PadCrop: max(o.Augment.PadCrop, 2)}
		case "crop-flip":
			o.Augment = data.Augment{PadCrop: max(o.Augment.PadCrop, 2), HFlip: true}
		default:
			return fmt.Errorf("unknown --augment %q: use none, flip, crop or crop-flip", *augment)
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if set["cutmix"] {
			o.Mix.CutMix = float32(*cutmix)
		}
		if set["mixup"] {
			o.Mix.Mixup = float32(*mixup)
		}
		if set["mix-prob"] {
			o.Mix.Prob = float32(*mixProb)
		}
		if err := o.Mix.Validate(); err != nil {
			return fmt.Errorf("%w (see --cutmix, --mixup, --mix-prob)", err)
		}
		if set["mix-off-epoch"] {
			o.MixOffEpoch = *mixOff
		}
		o = r.Fit(o, trainSet.N, set["mix-off-epoch"])
		if mf.dropPath < 0 {
			mf.dropPath = float64(r.DropPath)
		}
		if mf.preset == "" {
			mf.applyRecipe(r.Dim, r.MLPDim, r.Depth, r.Stem, r.Patch)
		}
		c, err := mf.config(trainSet.H, trainSet.C, len(trainSet.Classes))
		if err != nil {
			return err
		}
		m, err := vit.New(c, *seed) // train.New sets the labels and normalisation from trainSet
		if err != nil {
			return err
		}
		dir := *out
		if dir == "" {
			dir = "runs/" + time.Now().Format("20060102-150405")
		}
		if tr, err = train.New(m, trainSet, testSet, o, dir); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Training %s: %.2fM parameters, %.1f MFLOPs per image, on %s (%d train, %d test images), %s. Run folder: %s\n",
			describe(c), float64(m.NumParams())/1e6, float64(c.FLOPs())/1e6, trainSet.Name, trainSet.N, testSet.N,
			plural(tr.Options.Replicas, "model replica"), dir)
	}
	bar := &progress{w: stderr}
	tr.Observer = bar
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := tr.Run(ctx)
	bar.finish()
	if err == context.Canceled {
		fmt.Fprintf(stderr, "Interrupted at step %d; state saved. Continue with: vit train --resume %s\n", res.Steps, tr.Out)
		return err
	}
	if err != nil {
		return err
	}
	if *jsonOut {
		return json.NewEncoder(stdout).Encode(struct {
			train.Result
			Run string `json:"run"`
		}{res, tr.Out})
	}
	fmt.Fprintf(stdout, "test accuracy %.2f%% (loss %.4f) after %d steps (%.1f epochs) in %s, %.0f images/s. Model: %s\n",
		100*res.TestAccuracy, res.TestLoss, res.Steps, res.Epochs, time.Duration(res.WallS*float64(time.Second)).Round(time.Second), res.ImagesPerS, tr.Out)
	return nil
}

func describe(c vit.Config) string {
	kind := "ViT"
	if len(c.Stem) > 0 {
		kind = fmt.Sprintf("hybrid ViT (conv stem %s)", vit.FormatStem(c.Stem))
	}
	return fmt.Sprintf("%s patch %d, dim %d, depth %d, %d heads, MLP %d, %d×%d×%d", kind, c.Patch, c.Dim, c.Depth, c.Heads, c.MLPDim, c.ImageHeight, c.ImageWidth, c.Channels)
}

// progress draws a bar per epoch and a summary line after it, on stderr
// (console.Bar: plain lines when stderr is not a terminal).
type progress struct {
	w   io.Writer
	bar *console.Bar
}

func (p *progress) EpochStart(epoch, batches, stepsLeft int) {
	p.bar = console.NewBar(p.w, min(batches, stepsLeft), fmt.Sprintf("epoch %d", epoch+1))
}

func (p *progress) Step(s train.StepStats) {
	p.bar.Describe(fmt.Sprintf("epoch %d  loss %.3f  lr %.2e  %.0f img/s", s.Epoch+1, s.Loss, s.LR, s.ImagesPerS))
	p.bar.Add(1)
}

func (p *progress) EpochEnd(e train.EpochStats) {
	p.finish()
	fmt.Fprintf(p.w, "epoch %3d  step %6d  train loss %.4f acc %6.2f%%  test loss %.4f acc %6.2f%%  %5.0f img/s  %s\n",
		e.Epoch+1, e.Step, e.TrainLoss, 100*e.TrainAccuracy, e.TestLoss, 100*e.TestAccuracy, e.ImagesPerS,
		time.Duration(e.WallS*float64(time.Second)).Round(time.Second))
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}

// plural is "1 thing" or "n things".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
