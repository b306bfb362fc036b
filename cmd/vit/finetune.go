package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/train"
)

func runFinetune(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("finetune", "--model PATH [--data SPEC] [--image SIZE] [--steps N] [--linear-probe] [--out RUN]", stderr)
	model := fs.String("model", "", "pre-trained model: folder, .safetensors or .npz file, or training run folder")
	dataSpec := fs.String("data", "", "dataset to fine-tune on (as for vit train)")
	image := fs.Int("image", 0, "fine-tuning resolution (default: the model's); position embeddings are interpolated")
	resize := fs.String("pos-resize", "bicubic", "position-embedding interpolation: bicubic (HF), bicubic-antialias (timm), bilinear-jax (official JAX)")
	steps := fs.Int("steps", 500, "optimizer steps")
	batch := fs.Int("batch", 64, "batch size")
	lr := fs.Float64("lr", 0.01, "peak learning rate (SGD)")
	warmup := fs.Int("warmup", 50, "linear warm-up steps")
	probe := fs.Bool("linear-probe", false, "freeze the body and train only the new head")
	seed := fs.Uint64("seed", 1, "random seed (data order)")
	out := fs.String("out", "", "run folder (default: runs/finetune-<time>)")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object")
	attention := fs.String("attention", "", "fine-tune with softmax or performer attention instead of the model's own (a softmax-trained model can be fine-tuned as a Performer)")
	features := fs.Int("features", 0, "Performer random features per head, with --attention performer")
	if err := parse(fs, args); err != nil {
		return err
	}
	m, err := loadModel(*model, *attention, *features)
	if err != nil {
		return err
	}
	trainSet, testSet, err := data.Open(*dataSpec)
	if err != nil {
		return err
	}
	c := m.Config
	if trainSet.C != c.Channels {
		return fmt.Errorf("dataset %s has %d channels, the model %d", trainSet.Name, trainSet.C, c.Channels)
	}
	size := c.ImageHeight
	if *image > 0 {
		size = *image
	}
	if size != c.ImageHeight || size != c.ImageWidth {
		if err := checkpoint.AdaptToImage(m, size, size, *resize); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "position embeddings interpolated (%s) from %d×%d to %d×%d patches\n", *resize,
			c.GridH(), c.GridW(), m.Config.GridH(), m.Config.GridW())
	}
	if trainSet.H != size || trainSet.W != size {
		fmt.Fprintf(stderr, "resizing %s from %d×%d to %d×%d...\n", trainSet.Name, trainSet.H, trainSet.W, size, size)
		trainSet, testSet = trainSet.Resized(size, size), testSet.Resized(size, size)
	}
	// The paper's recipe: a new zero-initialised head, SGD with momentum 0.9,
	// warm-up and cosine decay, gradient clipping at global norm 1.
	if err := m.ResetHead(len(trainSet.Classes), trainSet.Classes); err != nil {
		return err
	}
	o := train.Options{Steps: *steps, Batch: *batch, Optimizer: "sgd", Momentum: 0.9, LR: float32(*lr),
		WarmupSteps: min(*warmup, *steps/5), ClipNorm: 1, Seed: *seed, LogEvery: 10, LinearProbe: *probe}
	dir := *out
	if dir == "" {
		dir = "runs/finetune-" + time.Now().Format("20060102-150405")
	}
	tr, err := train.New(m, trainSet, testSet, o, dir)
	if err != nil {
		return err
	}
	mode := "fine-tuning"
	if *probe {
		mode = "linear probe"
	}
	fmt.Fprintf(stderr, "%s on %s (%d train, %d test images), %d steps. Run folder: %s\n", mode, trainSet.Name, trainSet.N, testSet.N, *steps, dir)
	tr.Observer = &progress{w: stderr}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := tr.Run(ctx)
	if err != nil {
		return err
	}
	if *jsonOut {
		return json.NewEncoder(stdout).Encode(struct {
			train.Result
			Run string `json:"run"`
		}{res, dir})
	}
	fmt.Fprintf(stdout, "test accuracy %.2f%% (loss %.4f) after %d steps in %s. Model: %s\n",
		100*res.TestAccuracy, res.TestLoss, res.Steps, time.Duration(res.WallS*float64(time.Second)).Round(time.Second), dir)
	return nil
}
