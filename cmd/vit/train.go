package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/internal/console"
	"github.com/vitgo/vit/resnet"
	"github.com/vitgo/vit/train"
)

// trainFlags are vit train's own flags.
type trainFlags struct {
	model                  modelFlags
	training               trainingFlags
	data, recipe, out      string
	resume                 string
	epochs, steps, batch   int
	lr, wd                 float64
	optimizer, augment     string
	seed                   uint64
	json                   bool
	cutmix, mixup, mixProb float64
	mixOff, replicas       int
	run                    runFlags
}

func trainCommand() *cobra.Command {
	var f trainFlags
	cmd := &cobra.Command{
		Use:   "train [flags]",
		Short: "train a model (default: the reference small ViT on Fashion-MNIST)",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runTrain(cmd, &f) },
	}
	fs := cmd.Flags()
	fl := flags{fs}
	fs.StringVar(&f.data, "data", "", "dataset: a folder (IDX, CIFAR-10 binary, or class folders), fashion-mnist, mnist or embedded (default: installed Fashion-MNIST, else the embedded subset)")
	fl.enum(&f.recipe, "recipe", "default", recipeList, "training recipe: default (hybrid ViT, 35 epochs, CutMix for the first 20, about an hour on 2 cores), quick (hybrid ViT, 6 epochs, under 10 minutes) or reference (the plain reference small ViT, 100 epochs)")
	fl.count(&f.epochs, "epochs", 0, 1, "epochs (default: the recipe's)")
	fl.count(&f.steps, "steps", 0, 1, "run length in optimizer steps, instead of epochs")
	fl.count(&f.batch, "batch", 0, 1, "batch size (default: the recipe's, 128)")
	fl.positive(&f.lr, "lr", 0, "peak learning rate (default: the recipe's)")
	fl.nonNegative(&f.wd, "weight-decay", 0, "AdamW weight decay (default: the recipe's)")
	fl.enum(&f.optimizer, "optimizer", "", []string{"adamw", "sgd"}, "adamw or sgd (default: the recipe's, adamw)")
	fl.seed(&f.seed, "seed", 1, "random seed: initialisation, data order, augmentation and dropout")
	fs.StringVar(&f.out, "out", "", "run folder for checkpoints and the metrics log (default: runs/<time>)")
	fs.StringVar(&f.resume, "resume", "", "continue the run in this folder")
	fs.BoolVar(&f.json, "json", false, "print the result as one JSON object on stdout")
	fl.enum(&f.augment, "augment", "", []string{"none", "flip", "crop", "crop-flip"}, "augmentation: none, flip (horizontal flips; wrong for digits), crop (random crop with padding), crop-flip (both) (default: the recipe's)")
	fl.nonNegative(&f.cutmix, "cutmix", 0, "CutMix: α of Beta(α, α) for the share of each image pasted from its partner; 0 disables (default: the recipe's)")
	fl.nonNegative(&f.mixup, "mixup", 0, "Mixup: α of Beta(α, α) for the blend of each image with its partner; 0 disables (default: the recipe's)")
	fl.probability(&f.mixProb, "mix-prob", 0, "probability that a batch is mixed by CutMix or Mixup (default: the recipe's, 1)")
	fl.count(&f.mixOff, "mix-off-epoch", 0, 0, "stop CutMix and Mixup after this many epochs, to end on whole images; 0 never stops (default: the recipe's)")
	fl.count(&f.replicas, "replicas", 0, 1, "model replicas sharing each batch, one per core (data parallelism); 1 splits every matrix product among the cores instead (default: one per core, at least 8 images each)")
	f.run.register(fl)
	f.model.register(fs)
	f.training.register(fs)
	return cmd
}

// recipeList is the recipe names, for --recipe.
var recipeList = func() []string {
	var names []string
	for _, r := range train.Recipes() {
		names = append(names, r.Name)
	}
	return names
}()

func runTrain(cmd *cobra.Command, f *trainFlags) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	given := cmd.Flags().Changed
	if ro, err := train.RunOptions(f.resume); f.resume != "" && !given("data") && err == nil {
		f.data = ro.Data // a resumed run trains on its own data
	}
	if err := checkRunFolder(f.out); f.resume == "" && err != nil {
		return err
	}
	trainSet, testSet, err := data.OpenContext(cmd.Context(), nil, f.data)
	if err != nil {
		return err
	}
	if f.data == "" && strings.HasPrefix(trainSet.Name, data.EmbeddedName) {
		fmt.Fprintf(stderr, "Fashion-MNIST is not installed: training on the subset embedded in vit (%d train, %d test images).\n"+
			"Install it (apt-get install dataset-fashion-mnist) or pass --data for the full dataset.\n", trainSet.N, testSet.N)
	}

	var tr *train.Trainer
	if f.resume != "" {
		if given("out") && f.out != f.resume {
			return fmt.Errorf("--out %s and --resume %s name different folders: a resumed run saves into its own folder", f.out, f.resume)
		}
		tr, err = train.Resume(f.resume, trainSet, testSet)
		switch {
		case errors.Is(err, train.ErrNoCheckpoint):
			slog.Warn("the run folder has no checkpoint yet: starting the run from the beginning", "run", f.resume)
			f.out = f.resume
		case err != nil:
			return err
		default:
			if err := resumeConflict(cmd.Flags(), tr); err != nil {
				return err
			}
			if err := tr.Model.Spec().CheckMemory(tr.Options.Batch, true); err != nil {
				return fmt.Errorf("%s: %w", f.resume, err)
			}
			f.run.applySaving(&tr.Options, given)
			fmt.Fprintf(stderr, "Resuming %s at step %d.\n", f.resume, tr.Step())
		}
	}
	if tr == nil {
		r, err := train.LookupRecipe(f.recipe)
		if err != nil {
			return err
		}
		o := r.Options
		if given("epochs") {
			o.Epochs = f.epochs
		}
		if given("steps") {
			o.Steps = f.steps
		}
		if given("batch") {
			o.Batch = f.batch
		}
		if given("lr") {
			o.LR = float32(f.lr)
		}
		if given("weight-decay") {
			o.WeightDecay = float32(f.wd)
		}
		if given("optimizer") {
			o.Optimizer = f.optimizer
		}
		if o.Optimizer == "sgd" && o.Momentum == 0 {
			o.Momentum = 0.9
		}
		o.Seed = f.seed
		o.Replicas = f.replicas
		f.run.applySaving(&o, given)
		o.Data = dataName(f.data, trainSet)
		if o.ValidationSize, err = f.run.validationSize(trainSet.N, given); err != nil {
			return err
		}
		switch f.augment {
		case "none":
			o.Augment = data.Augment{}
		case "flip":
			o.Augment = data.Augment{HFlip: true}
		case "crop":
			o.Augment = data.Augment{PadCrop: max(o.Augment.PadCrop, 2)}
		case "crop-flip":
			o.Augment = data.Augment{PadCrop: max(o.Augment.PadCrop, 2), HFlip: true}
		}
		if given("cutmix") {
			o.Mix.CutMix = float32(f.cutmix)
		}
		if given("mixup") {
			o.Mix.Mixup = float32(f.mixup)
		}
		if given("mix-prob") {
			o.Mix.Prob = float32(f.mixProb)
		}
		if err := o.Mix.Validate(); err != nil {
			return fmt.Errorf("%w (see --cutmix, --mixup, --mix-prob)", err)
		}
		if given("mix-off-epoch") {
			o.MixOffEpoch = f.mixOff
		}
		o = r.Fit(o, trainSet.N, given("mix-off-epoch"))
		if !given("drop-path") && f.model.arch == "vit" {
			f.training.dropPath = float64(r.DropPath)
		}
		if f.model.preset == "" && f.model.arch == "vit" {
			f.model.applyRecipe(r.Dim, r.MLPDim, r.Depth, r.Stem, r.Patch)
		}
		c, err := f.model.config(&f.training, trainSet.H, trainSet.W, trainSet.C, len(trainSet.Classes))
		if err != nil {
			return err
		}
		if err := c.CheckMemory(o.Batch, true); err != nil {
			return fmt.Errorf("%s: %w (--batch)", describe(c), err)
		}
		if c.Channels == trainSet.C { // --image: the data at the model's size
			if err := resizeSets(stderr, c.ImageHeight, c.ImageWidth, &trainSet, &testSet); err != nil {
				return err
			}
		}
		m, err := vit.NewNetwork(c, f.seed) // train.New sets the labels and normalisation from trainSet
		if err != nil {
			return err
		}
		dir := f.out
		if dir == "" {
			dir = "runs/" + time.Now().Format("20060102-150405")
		}
		if tr, err = train.New(m, trainSet, testSet, o, dir); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Training %s: %.2fM parameters, %.1f MFLOPs per image, on %s (%d train, %d validation, %d test images), %s. Run folder: %s\n",
			describe(c), float64(m.NumParams())/1e6, float64(c.FLOPs())/1e6, trainSet.Name, tr.Train.N, o.ValidationSize, testSet.N,
			plural(tr.Options.Replicas, "model replica"), dir)
	}
	return runTrainer(cmd.Context(), tr, stdout, stderr, f.json)
}

func describe(c vit.Config) string {
	if c.Arch == resnet.Arch {
		return fmt.Sprintf("ResNet-%d width %d (BiT: pre-activation, GroupNorm, weight standardisation), %d×%d×%d", c.Depth, c.Width, c.ImageHeight, c.ImageWidth, c.Channels)
	}
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
	val := ""
	if e.ValImages > 0 {
		val = fmt.Sprintf("  validation loss %.4f acc %6.2f%%", e.ValLoss, 100*e.ValAccuracy)
	}
	fmt.Fprintf(p.w, "epoch %3d  step %6d  train loss %.4f acc %6.2f%%%s  %5.0f img/s  %s\n",
		e.Epoch+1, e.Step, e.TrainLoss, 100*e.TrainAccuracy, val, e.ImagesPerS,
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

// dataName is how a run folder names the dataset of --data spec, so that
// a resumed run opens it again from any working directory: a folder by its
// absolute path, the default by "" (or "embedded" when it fell back to the
// embedded subset).
func dataName(spec string, d *data.Dataset) string {
	switch strings.ToLower(spec) {
	case "":
		if strings.HasPrefix(d.Name, data.EmbeddedName) {
			return "embedded"
		}
		return ""
	case "fashion-mnist", "fashion_mnist", "fashionmnist", "fashion", "fmnist", "mnist", "embedded":
		return spec
	}
	if abs, err := filepath.Abs(spec); err == nil {
		return abs
	}
	return spec
}
