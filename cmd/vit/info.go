package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/vitgo/vit"
)

func runInfo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("info", "[model flags] [--batch N] [--json]", stderr)
	var mf modelFlags
	mf.register(fs)
	batch := fs.Int("batch", 1, "batch size for the activation memory")
	jsonOut := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := mf.standalone()
	if err != nil {
		return err
	}
	m, err := vit.New(c, 0)
	if err != nil {
		return err
	}
	train := m.NewWorkspace(*batch, true).Bytes()
	infer := m.NewWorkspace(*batch, false).Bytes()
	info := struct {
		Config           vit.Config `json:"config"`
		Params           int64      `json:"params"`
		FLOPsPerImage    int64      `json:"flops_per_image"`
		Tokens           int        `json:"tokens"`
		Batch            int        `json:"batch"`
		TrainActivations int64      `json:"train_activation_bytes"`
		InferActivations int64      `json:"inference_activation_bytes"`
		WeightBytes      int64      `json:"weight_bytes"`
		TrainStateBytes  int64      `json:"train_state_bytes"` // weights, gradients, AdamW moments
	}{c, m.NumParams(), c.FLOPs(), c.Tokens(), *batch, train, infer, 4 * m.NumParams(), 16 * m.NumParams()}
	if *jsonOut {
		return json.NewEncoder(stdout).Encode(info)
	}
	fmt.Fprintf(stdout, "%s, %d classes\n", describe(c), c.Classes)
	fmt.Fprintf(stdout, "tokens            %d (%d patches%s)\n", c.Tokens(), c.NumPatches(), map[bool]string{true: " + class token", false: ""}[c.ClassToken()])
	fmt.Fprintf(stdout, "parameters        %d (%.2fM, %s as float32)\n", info.Params, float64(info.Params)/1e6, bytes(info.WeightBytes))
	fmt.Fprintf(stdout, "FLOPs per image   %d (%.3f GFLOPs forward; training ≈ 3×)\n", info.FLOPsPerImage, float64(info.FLOPsPerImage)/1e9)
	fmt.Fprintf(stdout, "activations       %s training, %s inference, at batch %d\n", bytes(train), bytes(infer), *batch)
	fmt.Fprintf(stdout, "training state    %s (weights, gradients, AdamW moments)\n", bytes(info.TrainStateBytes))
	return nil
}

func bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
}
