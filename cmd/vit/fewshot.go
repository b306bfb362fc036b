package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/train"
)

func runFewshot(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("fewshot", "--model PATH [--data SPEC] [--shots 1,5,10] [--trials N] [--json]", stderr)
	model := fs.String("model", "", "model folder, .safetensors or .npz file, or training run folder")
	dataSpec := fs.String("data", "", "dataset (as for vit train): shots come from its train split, accuracy from its test split")
	shotsFlag := fs.String("shots", "1,5,10", "comma-separated images per class")
	trials := fs.Int("trials", 5, "random draws of the shots per setting (mean and standard deviation reported)")
	l2 := fs.Float64("l2", 1, "ridge regularisation λ")
	testLimit := fs.Int("test-images", 2000, "test images to score (0: all)")
	seed := fs.Uint64("seed", 1, "seed of the shot draws")
	jsonOut := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args); err != nil {
		return err
	}
	var shots []int
	for _, s := range strings.Split(*shotsFlag, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || k < 1 {
			return fmt.Errorf("--shots %q: want positive integers separated by commas", *shotsFlag)
		}
		shots = append(shots, k)
	}
	m, err := loadModel(*model, "", 0)
	if err != nil {
		return err
	}
	trainSet, testSet, err := data.Open(*dataSpec)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	results, testImages, err := train.FewShot(ctx, m, trainSet, testSet,
		train.FewShotOptions{Shots: shots, Trials: *trials, L2: *l2, TestImages: *testLimit, Seed: *seed})
	if err != nil {
		return err
	}
	if *jsonOut {
		return json.NewEncoder(stdout).Encode(map[string]any{"dataset": testSet.Name, "test_images": testImages, "l2": *l2, "results": results})
	}
	for _, r := range results {
		fmt.Fprintf(stdout, "%2d-shot: %.2f%% ± %.2f (%d trials, %d test images)\n", r.Shots, 100*r.Accuracy, 100*r.Std, len(r.Trials), testImages)
	}
	return nil
}
