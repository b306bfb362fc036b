package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/kernels"
	"github.com/vitgo/vit/train"
)

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "--model PATH [--data DIR] [--dtype fp32|bf16] [--tta none|flip] [--json]", stderr)
	model := fs.String("model", "", "model folder, model.safetensors file, or training run folder")
	dataSpec := fs.String("data", "", "dataset whose test split to use (as for vit train)")
	batch := fs.Int("batch", 256, "batch size")
	jsonOut := fs.Bool("json", false, "print the metrics as JSON")
	attention := fs.String("attention", "", "run with this attention instead of the model's own: softmax or performer")
	features := fs.Int("features", 0, "Performer random features per head, with --attention performer")
	tta := fs.String("tta", "none", "test-time augmentation: none, or flip (average the logits of each image and its mirror image; not for digits)")
	dtypeFlag := fs.String("dtype", "fp32", "number format of the matrix products: fp32, or bf16 (then also compared with fp32: top-1 agreement and logit differences)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *model == "" {
		fs.Usage()
		return errUsage
	}
	if *tta != "none" && *tta != "flip" {
		return fmt.Errorf("unknown --tta %q: use none or flip", *tta)
	}
	m, err := checkpoint.Load(*model)
	if err != nil {
		return err
	}
	if *attention != "" {
		if err := m.SetAttention(*attention, *features, 1); err != nil {
			return err
		}
	}
	dt, err := kernels.ParseDType(*dtypeFlag)
	if err != nil {
		return fmt.Errorf("--dtype: %w", err)
	}
	_, test, err := data.Open(*dataSpec)
	if err != nil {
		return err
	}
	var agree *train.Agreement
	var ev train.Metrics
	if dt != kernels.F32 {
		// One fp32 pass and one dt pass: the agreement and dt's scores.
		fmt.Fprintf(stderr, "comparing %s with fp32 on %d images...\n", dt, test.N)
		ag, scores, err := train.CompareDType(m, test, *batch, dt)
		if err != nil {
			return err
		}
		agree, ev = &ag, scores
	}
	if dt == kernels.F32 || *tta == "flip" {
		m.PackWeights(dt)
		evaluate := train.Evaluate
		if *tta == "flip" {
			evaluate = train.EvaluateFlip
		}
		if ev, err = evaluate(m, test, *batch); err != nil {
			return err
		}
	}
	if *jsonOut {
		return json.NewEncoder(stdout).Encode(struct {
			Dataset string `json:"dataset"`
			DType   string `json:"dtype"`
			TTA     string `json:"tta"`
			train.Metrics
			Agreement *train.Agreement `json:"agreement_with_fp32,omitempty"`
		}{test.Name, dt.String(), *tta, ev, agree})
	}
	how := dt.String()
	if *tta == "flip" {
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
	if i < len(names) {
		return names[i]
	}
	return fmt.Sprint(i)
}
