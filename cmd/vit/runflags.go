package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/internal/atomicfile"
	"github.com/vitgo/vit/train"
)

// runFlags are the flags of the commands that write a training run folder
// (vit train, vit finetune): the validation split held out of the training
// images and how often checkpoints are saved and how many are kept.
type runFlags struct {
	val, keep int
	saveEvery string
}

func (r *runFlags) register(fl flags) {
	fl.count(&r.val, "val", 5000, 0, "training images held out (the last of each class) to score after every epoch and choose recipes on; 0 holds none out; the default holds out a tenth of a training set under 50,000 images")
	fl.count(&r.keep, "keep", 1, 1, "checkpoints the run folder keeps, newest first; older ones are removed once a newer one is complete")
	fl.parsed(&r.saveEvery, "save-every", "", checkInterval, []string{"0", "-5", "soon", "1ms", ""}, "save a checkpoint within an epoch every N steps (500) or every duration (10m), besides the end of every epoch; a kill loses at most that much work (default 10m)")
}

// applySaving sets o.SaveEvery and o.Keep from the flags given.
func (r *runFlags) applySaving(o *train.Options, given func(string) bool) {
	if given("save-every") {
		o.SaveEvery, _ = train.ParseInterval(r.saveEvery) // checked by the flag
	}
	if given("keep") {
		o.Keep = r.keep
	}
}

// validationSize is the validation split of a training set of n images:
// --val if given (at most half of them), else train.DefaultValidationSize.
func (r *runFlags) validationSize(n int, given func(string) bool) (int, error) {
	if !given("val") {
		return train.DefaultValidationSize(n), nil
	}
	if r.val > n/2 {
		return 0, fmt.Errorf("--val %d: hold out 0 (none) to %d of the %d training images", r.val, n/2, n)
	}
	return r.val, nil
}

// resizeSets replaces each of the datasets sets point to by a copy
// resized to height × width (data.Dataset.Resized), saying so on stderr,
// unless it has that size already. Sets that would not fit in memory at
// the new size are refused before any is made.
func resizeSets(stderr io.Writer, height, width int, sets ...**data.Dataset) error {
	var need float64
	var todo []**data.Dataset
	for _, d := range sets {
		if (*d).H != height || (*d).W != width {
			need += float64((*d).N) * float64((*d).C) * float64(height) * float64(width)
			todo = append(todo, d)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	name := (*todo[0]).Name
	if avail, _ := vit.AvailableMemory(); need > float64(avail)/2 {
		return fmt.Errorf("%s resized to %d×%d would take %s; this machine has %s available: use a smaller image size (--image)",
			name, height, width, vit.FormatBytes(int64(min(need, math.MaxInt64/2))), vit.FormatBytes(avail))
	}
	fmt.Fprintf(stderr, "resizing %s from %d×%d to the model's %d×%d...\n", name, (*todo[0]).H, (*todo[0]).W, height, width)
	for _, d := range todo {
		*d = (*d).Resized(height, width)
	}
	return nil
}

// checkRunFolder refuses, before any data or model loads, an --out run
// folder that cannot be written; "" (the default folder) passes. train.New
// checks it again.
func checkRunFolder(out string) error {
	if out == "" {
		return nil
	}
	if err := atomicfile.CheckDir(out); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}

// checkInterval checks a --save-every value (train.ParseInterval).
func checkInterval(s string) error {
	if _, err := train.ParseInterval(s); err != nil {
		return errors.New("must be a step count ≥ 1 (500) or a duration ≥ 1s (10m, 90s)")
	}
	return nil
}

// runTrainer runs tr under ctx with the progress bar on stderr and prints
// its result on stdout: the validation and test scores, or one JSON object.
// An interrupted run says how to continue it.
func runTrainer(ctx context.Context, tr *train.Trainer, stdout, stderr io.Writer, asJSON bool) error {
	bar := &progress{w: stderr}
	tr.Observer = bar
	res, err := tr.Run(ctx)
	bar.finish()
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "Interrupted at step %d; state saved. Continue with: vit train --resume %s\n", res.Steps, tr.Out)
		return err
	}
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(struct {
			train.Result
			Run string `json:"run"`
		}{res, tr.Out})
	}
	if res.Split.Validation > 0 {
		fmt.Fprintf(stdout, "validation accuracy %.2f%% (loss %.4f, %d held-out training images)\n", 100*res.ValAccuracy, res.ValLoss, res.Split.Validation)
	}
	fmt.Fprintf(stdout, "test accuracy %.2f%% (loss %.4f, final model, %d test images) after %d steps (%.1f epochs) in %s, %.0f images/s. Model: %s\n",
		100*res.TestAccuracy, res.TestLoss, res.Split.TestImages, res.Steps, res.Epochs, time.Duration(res.WallS*float64(time.Second)).Round(time.Second), res.ImagesPerS, tr.Out)
	return nil
}
