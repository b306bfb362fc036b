package vit_test

import (
	"context"
	"fmt"
	"image"
	_ "image/png"
	"log"
	"os"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/kernels"
)

// Build ViT-B/16 as in the paper's Table 1 and describe it.
func ExamplePreset() {
	cfg, err := vit.Preset("B/16", 224, 3, 1000)
	if err != nil {
		panic(err)
	}
	m, err := vit.New(cfg, 0)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d tokens, %.1fM parameters, %.1f GFLOPs per image\n",
		cfg.Tokens(), float64(m.NumParams())/1e6, float64(cfg.FLOPs())/1e9)
	// Output: 197 tokens, 86.6M parameters, 35.1 GFLOPs per image
}

// Classify a batch of images with a (here untrained) model. Predict is safe
// to call from many goroutines at once.
func ExampleModel_Predict() {
	cfg := vit.Config{ImageHeight: 28, ImageWidth: 28, Channels: 1, Patch: 7,
		Dim: 32, Depth: 2, Heads: 2, MLPDim: 64, Classes: 10}
	m, _ := vit.New(cfg, 1)
	images := make([]float32, 2*1*28*28) // [batch, channels, height, width], normalised
	logits, err := m.Predict(images, 2)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(logits), "logits") // [batch, classes]
	// Output: 20 logits
}

// Prepare a model for serving: pack its weights once, in bfloat16 here
// (weights and activations rounded to bf16 for the matrix products, fp32
// accumulation), then predict as usual.
func ExampleModel_PackWeights() {
	cfg := vit.Config{ImageHeight: 32, ImageWidth: 32, Channels: 3, Patch: 8,
		Dim: 64, Depth: 2, Heads: 4, MLPDim: 128, Classes: 10}
	m, _ := vit.New(cfg, 1)
	m.Head.W.Data[3] = 1 // a non-zero head, so the logits say something
	images := make([]float32, 3*32*32)
	for i := range images {
		images[i] = float32(i%32) / 32
	}
	fp32, _ := m.Predict(images, 1)
	m.PackWeights(kernels.BF16)
	bf16, _ := m.Predict(images, 1)
	fmt.Printf("logit 0: fp32 %.2f, bf16 %.2f\n", fp32[0], bf16[0])
	// Output: logit 0: fp32 -0.08, bf16 -0.08
}

// Classify a photo with a saved model: the image is resized, cropped and
// normalised as the model's checkpoint expects.
func ExampleClassify() {
	m, err := checkpoint.Load("testdata/classify/hf/model.safetensors")
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.Open("imageio/testdata/in/chelsea.png")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f) // with image/png (or imageio.Decode for more formats)
	if err != nil {
		log.Fatal(err)
	}
	top, err := vit.Classify(context.Background(), m, img, 2)
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range top {
		fmt.Printf("%s %.1f%%\n", c.Label, 100*c.Prob)
	}
	// Output:
	// dog 57.2%
	// fish 26.0%
}

// Embed an image: the model's pre-head feature vector, [Config.Dim].
func ExampleEmbed() {
	m, err := checkpoint.Load("testdata/classify/hf/model.safetensors")
	if err != nil {
		log.Fatal(err)
	}
	img := image.NewGray(image.Rect(0, 0, 32, 32)) // any image.Image
	features, err := vit.Embed(context.Background(), m, img)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(features), "features")
	// Output: 16 features
}
