package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/internal/console"
	"github.com/vitgo/vit/train"
)

// fewshotFlags are vit fewshot's flags.
type fewshotFlags struct {
	model, data, shots string
	trials, testImages int
	l2                 float64
	seed               uint64
	json               bool
}

func fewshotCommand() *cobra.Command {
	var f fewshotFlags
	cmd := &cobra.Command{
		Use:   "fewshot --model PATH [--data SPEC] [--shots 1,5,10] [--trials N] [--json]",
		Short: "the paper's few-shot linear evaluation of frozen features",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runFewshot(cmd, &f) },
	}
	fs := cmd.Flags()
	fl := flags{fs}
	fs.StringVar(&f.model, "model", "", "model folder, .safetensors or .npz file, or training run folder")
	fs.StringVar(&f.data, "data", "", "dataset (as for vit train): shots come from its train split, accuracy from its test split")
	fl.parsed(&f.shots, "shots", "1,5,10", func(s string) error { _, err := parseShots(s); return err }, []string{"0", "1,,5", "-1", "x"},
		"comma-separated images per class")
	fl.count(&f.trials, "trials", 5, 1, "random draws of the shots per setting (mean and standard deviation reported)")
	fl.positive(&f.l2, "l2", 1, "ridge regularisation λ")
	fl.count(&f.testImages, "test-images", 2000, 0, "test images to score (0: all)")
	fl.seed(&f.seed, "seed", 1, "seed of the shot draws")
	fs.BoolVar(&f.json, "json", false, "print one JSON object")
	return cmd
}

// parseShots reads --shots: positive integers separated by commas.
func parseShots(s string) ([]int, error) {
	var shots []int
	for _, part := range strings.Split(s, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || k < 1 || k > maxCount {
			return nil, errors.New("want positive integers separated by commas, e.g. 1,5,10")
		}
		shots = append(shots, k)
	}
	return shots, nil
}

func runFewshot(cmd *cobra.Command, f *fewshotFlags) error {
	stdout := cmd.OutOrStdout()
	shots, _ := parseShots(f.shots)
	m, err := loadModel(cmd.Context(), f.model, "", 0)
	if err != nil {
		return err
	}
	if err := m.Config.CheckMemory(256, false); err != nil { // train.Features embeds batches of 256
		return err
	}
	trainSet, testSet, err := data.OpenContext(cmd.Context(), nil, f.data)
	if err != nil {
		return err
	}
	if c := m.Config; trainSet.C == c.Channels { // a model fine-tuned at another size: the data at its size
		if err := resizeSets(cmd.ErrOrStderr(), c.ImageHeight, c.ImageWidth, &trainSet, &testSet); err != nil {
			return err
		}
	}
	var bar *console.Bar
	results, testImages, err := train.FewShot(cmd.Context(), m, trainSet, testSet,
		train.FewShotOptions{Shots: shots, Trials: f.trials, L2: f.l2, TestImages: f.testImages, Seed: f.seed,
			Progress: func(done, total int) {
				if bar == nil {
					bar = console.NewBar(cmd.ErrOrStderr(), total, "embedding")
				}
				bar.Add(done - bar.Done())
			}})
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	if f.json {
		return json.NewEncoder(stdout).Encode(map[string]any{"dataset": testSet.Name, "test_images": testImages, "l2": f.l2, "results": results})
	}
	for _, r := range results {
		fmt.Fprintf(stdout, "%2d-shot: %.2f%% ± %.2f (%d trials, %d test images)\n", r.Shots, 100*r.Accuracy, 100*r.Std, len(r.Trials), testImages)
	}
	return nil
}
