package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vitgo/vit"
)

func infoCommand() *cobra.Command {
	var (
		mf      modelFlags
		batch   int
		jsonOut bool
	)
	cmd := &cobra.Command{
		Use:   "info [model flags] [--batch N] [--json]",
		Short: "parameters, FLOPs per image and activation memory of a model",
		Long: `Parameters, FLOPs per image and activation memory of a model: a preset and the model flags, or
with --model PATH a saved model (anything vit predict reads), described as loaded.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			saved, err := mf.saved(cmd.Context(), "described")
			if err != nil {
				return err
			}
			if saved != nil {
				return runInfo(cmd, saved.Config, batch, jsonOut)
			}
			c, err := mf.standalone(nil)
			if err != nil {
				return err
			}
			return runInfo(cmd, c, batch, jsonOut)
		},
	}
	fl := flags{cmd.Flags()}
	fl.count(&batch, "batch", 1, 1, "batch size for the activation memory")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print one JSON object")
	mf.savedOK = true
	mf.register(cmd.Flags())
	return cmd
}

// runInfo describes a model of configuration c from arithmetic alone
// (Config.Memory): nothing is allocated, so it answers for models larger
// than the machine, and then says whether one would fit.
func runInfo(cmd *cobra.Command, c vit.Config, batch int, jsonOut bool) error {
	stdout := cmd.OutOrStdout()
	train, infer := c.Memory(batch, true), c.Memory(batch, false)
	params := c.NumParams()
	tokens := 0
	if c.IsViT() {
		tokens = c.Tokens()
	}
	info := struct {
		Config           vit.Config `json:"config"`
		Params           int64      `json:"params"`
		FLOPsPerImage    int64      `json:"flops_per_image"`
		Tokens           int        `json:"tokens,omitempty"`
		Batch            int        `json:"batch"`
		TrainActivations int64      `json:"train_activation_bytes"`
		InferActivations int64      `json:"inference_activation_bytes"`
		WeightBytes      int64      `json:"weight_bytes"`
		TrainStateBytes  int64      `json:"train_state_bytes"` // weights, gradients, AdamW moments
	}{c, params, c.FLOPs(), tokens, batch, train.Activations, infer.Activations, 4 * params, 16 * params}
	if jsonOut {
		if err := json.NewEncoder(stdout).Encode(info); err != nil {
			return err
		}
	} else {
		if c.Headless {
			fmt.Fprintf(stdout, "%s, no classifier (image embeddings of %d values)\n", describe(c), c.FeatureDim())
		} else {
			fmt.Fprintf(stdout, "%s, %d classes\n", describe(c), c.Classes)
		}
		if c.IsViT() {
			prefix := ""
			for _, p := range []struct {
				on   bool
				what string
			}{{c.ClassToken(), " + class token"}, {c.DistToken, " + distillation token"}, {c.Registers > 0, fmt.Sprintf(" + %d registers", c.Registers)}} {
				if p.on {
					prefix += p.what
				}
			}
			fmt.Fprintf(stdout, "tokens            %d (%d patches%s)\n", c.Tokens(), c.NumPatches(), prefix)
		}
		fmt.Fprintf(stdout, "parameters        %d (%.2fM, %s as float32)\n", info.Params, float64(info.Params)/1e6, vit.FormatBytes(info.WeightBytes))
		fmt.Fprintf(stdout, "FLOPs per image   %d (%.3f GFLOPs forward; training ≈ 3×)\n", info.FLOPsPerImage, float64(info.FLOPsPerImage)/1e9)
		fmt.Fprintf(stdout, "activations       %s training, %s inference, at batch %d\n", vit.FormatBytes(train.Activations), vit.FormatBytes(infer.Activations), batch)
		fmt.Fprintf(stdout, "training state    %s (weights, gradients, AdamW moments)\n", vit.FormatBytes(info.TrainStateBytes))
	}
	// The numbers are arithmetic; whether the model fits here is the exit
	// status: 1 when not even inference does, a warning when training
	// does not.
	if err := c.CheckMemory(batch, false); err != nil {
		return fmt.Errorf("does not fit: %w (--batch)", err)
	}
	if err := c.CheckMemory(batch, true); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "vit info: training does not fit: %v\n", err)
	}
	return nil
}
