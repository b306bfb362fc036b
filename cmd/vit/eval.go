package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/internal/console"
	"github.com/vitgo/vit/kernels"
	"github.com/vitgo/vit/train"
)

// evalFlags are vit eval's flags.
type evalFlags struct {
	model, data, attention, tta, dtype string
	batch, features                    int
	json                               bool
}

func evalCommand() *cobra.Command {
	var f evalFlags
	cmd := &cobra.Command{
		Use:   "eval --model PATH [--data DIR] [--dtype fp32|bf16] [--tta none|flip] [--json]",
		Short: "accuracy, per-class accuracy and confusion matrix of a model on a test set",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runEval(cmd, &f) },
	}
	fs := cmd.Flags()
	fl := flags{fs}
	fs.StringVar(&f.model, "model", "", "model folder, model.safetensors file, or training run folder")
	fs.StringVar(&f.data, "data", "", "dataset whose test split to use (as for vit train)")
	fl.count(&f.batch, "batch", 256, 1, "batch size")
	fs.BoolVar(&f.json, "json", false, "print the metrics as JSON")
	fl.enum(&f.attention, "attention", "", attentions, "run with this attention instead of the model's own: softmax or performer")
	fl.count(&f.features, "features", 0, 1, "Performer random features per head, with --attention performer (default ⌊dh·ln dh⌋)")
	fl.enum(&f.tta, "tta", "none", []string{"none", "flip"}, "test-time augmentation: none, or flip (average the logits of each image and its mirror image; not for digits)")
	fl.enum(&f.dtype, "dtype", "fp32", dtypes, "number format of the matrix products: fp32, or bf16 (then also compared with fp32: top-1 agreement and logit differences)")
	return cmd
}

func runEval(cmd *cobra.Command, f *evalFlags) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	dt, err := kernels.ParseDType(f.dtype)
	if err != nil {
		return usageErrorf("--dtype: %v", err)
	}
	net, err := loadNetwork(cmd.Context(), f.model, f.attention, f.features)
	if err != nil {
		return err
	}
	m, isViT := net.(*vit.Model)
	if !isViT && (f.attention != "" || dt != kernels.F32) {
		return usageErrorf("--attention and --dtype bf16 are for ViTs: a %s evaluates in fp32", net.Spec().Arch)
	}
	if err := net.Spec().CheckMemory(f.batch, false); err != nil {
		return fmt.Errorf("%w (--batch)", err)
	}
	_, test, err := data.OpenContext(cmd.Context(), nil, f.data)
	if err != nil {
		return err
	}
	if c := net.Spec(); test.C == c.Channels { // a model fine-tuned at another size: the data at its size
		if err := resizeSets(stderr, c.ImageHeight, c.ImageWidth, &test); err != nil {
			return err
		}
	}
	var agree *train.Agreement
	var ev train.Metrics
	if dt != kernels.F32 {
		// One fp32 pass and one dt pass: the agreement and dt's scores.
		fmt.Fprintf(stderr, "comparing %s with fp32 on %d images...\n", dt, test.N)
		ag, scores, err := train.CompareDType(m, test, f.batch, dt)
		if err != nil {
			return err
		}
		agree, ev = &ag, scores
	}
	if dt == kernels.F32 || f.tta == "flip" {
		if isViT {
			m.PackWeights(dt)
		}
		bar := console.NewBar(stderr, test.N, "evaluating")
		ev, err = train.EvaluateContext(cmd.Context(), net, test, train.EvalOptions{Batch: f.batch, Flip: f.tta == "flip",
			Progress: func(done, _ int) { bar.Add(done - bar.Done()) }})
		bar.Finish()
		if err != nil {
			return err
		}
	}
	if f.json {
		return json.NewEncoder(stdout).Encode(struct {
			Dataset string `json:"dataset"`
			DType   string `json:"dtype"`
			TTA     string `json:"tta"`
			train.Metrics
			Agreement *train.Agreement `json:"agreement_with_fp32,omitempty"`
		}{test.Name, dt.String(), f.tta, ev, agree})
	}
	how := dt.String()
	if f.tta == "flip" {
		how += ", mean of each image and its mirror image"
	}
	fmt.Fprintf(stdout, "%s (%s): %d images, accuracy %.2f%%, loss %.4f\n", test.Name, how, ev.N, 100*ev.Accuracy, ev.Loss)
	if agree != nil {
		fmt.Fprintf(stdout, "%s against fp32: top-1 agreement %.2f%%, largest logit difference %.4f (%.2f%% of the image's largest logit), accuracy %.2f%% vs %.2f%%\n",
			dt, 100*agree.Top1, agree.MaxLogitDiff, 100*agree.RelLogitDiff, 100*agree.AccuracyDT, 100*agree.AccuracyF32)
	}
	fmt.Fprintf(stdout, "\nper class:\n")
	for i, a := range ev.PerClass {
		fmt.Fprintf(stdout, "  %2d %-14s %6.2f%%\n", i, label(ev.Classes, i), 100*a)
	}
	fmt.Fprintf(stdout, "\nconfusion matrix (rows: true class, columns: predicted):\n     ")
	for j := range ev.Confusion {
		fmt.Fprintf(stdout, "%6d", j)
	}
	fmt.Fprintln(stdout)
	for i, row := range ev.Confusion {
		fmt.Fprintf(stdout, "  %2d ", i)
		for _, v := range row {
			fmt.Fprintf(stdout, "%6d", v)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

func label(names []string, i int) string {
	if i < 0 {
		return "" // no class: a model without a classifier
	}
	if i < len(names) {
		return names[i]
	}
	return fmt.Sprint(i)
}
