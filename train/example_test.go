package train_test

import (
	"context"
	"fmt"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/train"
)

// Train a small ViT on the Fashion-MNIST subset embedded in the module and
// evaluate it.
func Example() {
	trainSet, testSet := data.Embedded()
	norm := data.ComputeNormalize(trainSet)
	cfg := vit.Config{ImageHeight: 28, ImageWidth: 28, Channels: 1, Patch: 7, Dim: 32, Depth: 2, Heads: 2,
		MLPDim: 64, Classes: 10, Labels: trainSet.Classes, Mean: norm.Mean, Std: norm.Std}
	m, _ := vit.New(cfg, 1)
	opts := train.Options{Steps: 150, Batch: 64, Optimizer: "adamw", LR: 3e-3, WarmupSteps: 15,
		WeightDecay: 0.05, ClipNorm: 1, Seed: 1}
	tr, err := train.New(m, trainSet, testSet, opts, "") // "" keeps no run folder
	if err != nil {
		panic(err)
	}
	res, err := tr.Run(context.Background())
	if err != nil {
		panic(err)
	}
	fmt.Println("learned:", res.TestAccuracy > 0.5)
	// Output: learned: true
}
