package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/train"
)

// finetuneFlags are vit finetune's flags.
type finetuneFlags struct {
	model, data, resize, out, attention   string
	image, steps, batch, warmup, features int
	lr                                    float64
	probe, json                           bool
	seed                                  uint64
	run                                   runFlags
}

func finetuneCommand() *cobra.Command {
	var f finetuneFlags
	cmd := &cobra.Command{
		Use:   "finetune --model PATH [--data SPEC] [--image SIZE] [--steps N] [--linear-probe] [--val N] [--out RUN]",
		Short: "fine-tune a pre-trained model on new data, at a new resolution (the paper's transfer recipe)",
		Long: `Fine-tuning writes a run folder as vit train does: validation after every epoch, checkpoints
within epochs (--save-every, --keep), the test score at the end. Continue an interrupted
fine-tuning with vit train --resume RUN.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runFinetune(cmd, &f) },
	}
	fs := cmd.Flags()
	fl := flags{fs}
	fs.StringVar(&f.model, "model", "", "pre-trained model: folder, .safetensors or .npz file, or training run folder")
	fs.StringVar(&f.data, "data", "", "dataset to fine-tune on (as for vit train)")
	fl.count(&f.image, "image", 0, 1, "fine-tuning resolution (default: the model's); position embeddings are interpolated")
	fl.enum(&f.resize, "pos-resize", checkpoint.ResizeBicubic, checkpoint.ResizeMethods, "position-embedding interpolation: bicubic (HF), bicubic-antialias (timm), bilinear-jax (official JAX)")
	fl.count(&f.steps, "steps", 500, 1, "optimizer steps")
	fl.count(&f.batch, "batch", 64, 1, "batch size")
	fl.positive(&f.lr, "lr", 0.01, "peak learning rate (SGD)")
	fl.count(&f.warmup, "warmup", 50, 0, "linear warm-up steps")
	fs.BoolVar(&f.probe, "linear-probe", false, "freeze the body and train only the new head")
	fl.seed(&f.seed, "seed", 1, "random seed (data order)")
	fs.StringVar(&f.out, "out", "", "run folder (default: runs/finetune-<time>)")
	fs.BoolVar(&f.json, "json", false, "print the result as one JSON object")
	fl.enum(&f.attention, "attention", "", attentions, "fine-tune with softmax or performer attention instead of the model's own (a softmax-trained model can be fine-tuned as a Performer)")
	fl.count(&f.features, "features", 0, 1, "Performer random features per head, with --attention performer (default ⌊dh·ln dh⌋)")
	f.run.register(fl)
	return cmd
}

func runFinetune(cmd *cobra.Command, f *finetuneFlags) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	given := cmd.Flags().Changed
	if err := checkRunFolder(f.out); err != nil {
		return err
	}
	m, err := loadModel(cmd.Context(), f.model, f.attention, f.features)
	if err != nil {
		return err
	}
	at := m.Config // the model at the fine-tuning resolution, for the memory check
	if f.image > 0 {
		at.ImageHeight, at.ImageWidth = f.image, f.image
	}
	if err := at.Validate(); err != nil {
		return usageErrorf("--image %d: %v", f.image, err)
	}
	if err := at.CheckMemory(f.batch, true); err != nil {
		return fmt.Errorf("%w (--batch, --image)", err)
	}
	trainSet, testSet, err := data.OpenContext(cmd.Context(), nil, f.data)
	if err != nil {
		return err
	}
	c := m.Config
	if trainSet.C != c.Channels {
		return fmt.Errorf("dataset %s has %d channels, the model %d", trainSet.Name, trainSet.C, c.Channels)
	}
	h, w := c.ImageHeight, c.ImageWidth
	if f.image > 0 {
		h, w = f.image, f.image
	}
	if h != c.ImageHeight || w != c.ImageWidth {
		if err := checkpoint.AdaptToImage(m, h, w, f.resize); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "position embeddings interpolated (%s) from %d×%d to %d×%d patches\n", f.resize,
			c.GridH(), c.GridW(), m.Config.GridH(), m.Config.GridW())
	}
	if err := resizeSets(stderr, h, w, &trainSet, &testSet); err != nil {
		return err
	}
	// The paper's recipe: a new zero-initialised head, SGD with momentum 0.9,
	// warm-up and cosine decay, gradient clipping at global norm 1.
	if err := m.ResetHead(len(trainSet.Classes), trainSet.Classes); err != nil {
		return err
	}
	o := train.Options{Steps: f.steps, Batch: f.batch, Optimizer: "sgd", Momentum: 0.9, LR: float32(f.lr),
		WarmupSteps: min(f.warmup, f.steps/5), ClipNorm: 1, Seed: f.seed, LogEvery: 10, LinearProbe: f.probe,
		Data: dataName(f.data, trainSet)}
	f.run.applySaving(&o, given)
	if o.ValidationSize, err = f.run.validationSize(trainSet.N, given); err != nil {
		return err
	}
	dir := f.out
	if dir == "" {
		dir = "runs/finetune-" + time.Now().Format("20060102-150405")
	}
	tr, err := train.New(m, trainSet, testSet, o, dir)
	if err != nil {
		return err
	}
	mode := "fine-tuning"
	if f.probe {
		mode = "linear probe"
	}
	fmt.Fprintf(stderr, "%s on %s (%d train, %d validation, %d test images), %d steps. Run folder: %s\n",
		mode, trainSet.Name, tr.Train.N, o.ValidationSize, testSet.N, f.steps, dir)
	return runTrainer(cmd.Context(), tr, stdout, stderr, f.json)
}
