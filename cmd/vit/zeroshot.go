package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/records"
	"github.com/vitgo/vit/text"
	"github.com/vitgo/vit/zeroshot"
)

// imageTower is the image half of a CLIP or SigLIP model, as vit
// zeroshot uses it.
type imageTower struct {
	// config is the model's input: image size and normalisation, as
	// imageBatches reads them.
	config vit.Config
	// embed returns the embeddings of a batch of n prepared images,
	// [n, dim], in the space of the text tower's (CLIP: after
	// visual_projection; SigLIP: the attention-pooled output).
	embed func(x []float32, n int) ([]float32, error)
	dim   int
}

// loadImageTower loads the image tower of the CLIP or SigLIP model in
// dir, its weights packed in dtype. It is where the vision loaders plug
// in: this one loads dir as vit's other commands do and embeds with
// Model.Features, which is right once loadModel reads CLIP and SigLIP
// folders and Features returns their projected embeddings.
var loadImageTower = func(ctx context.Context, dir, dtype string, stderr io.Writer) (*imageTower, error) {
	m, err := loadModel(ctx, dir, "", 0)
	if err != nil {
		return nil, fmt.Errorf("the image tower: %w", err)
	}
	if err := packWeights(m, dtype, stderr); err != nil {
		return nil, err
	}
	return &imageTower{config: m.Config, embed: m.Features, dim: m.Config.Dim}, nil
}

type zeroshotFlags struct {
	model, labels, template, dtype string
	top, batch                     int
	json                           bool
}

func zeroshotCommand() *cobra.Command {
	var f zeroshotFlags
	cmd := &cobra.Command{
		Use:   "zeroshot --model DIR --labels A,B,C [--template T] [--json] IMAGE_OR_DIR...",
		Short: "classify images by label text with a CLIP or SigLIP model",
		Long: "The model is a Hugging Face CLIPModel or SiglipModel folder (config.json, weights, tokenizer files). " +
			"Each label, put into the template, is embedded by the text tower and compared with the images' embeddings: " +
			"CLIP's probabilities are a softmax over the labels, SigLIP's a sigmoid per label (they need not sum to 1). " +
			"Each argument is an image file, a folder (walked for images), or - for one image read from stdin.",
		Args: needArgs("image files, folders of images or - (one image from stdin)"),
		RunE: func(cmd *cobra.Command, args []string) error { return runZeroshot(cmd, args, &f) },
	}
	fs := cmd.Flags()
	fl := flags{fs}
	fs.StringVar(&f.model, "model", "", "Hugging Face CLIP or SigLIP folder")
	fl.parsed(&f.labels, "labels", "", func(s string) error { _, err := parseLabels(s); return err },
		[]string{"", ",", "cat,,dog", "cat,cat"}, "the labels, separated by commas")
	fl.parsed(&f.template, "template", zeroshot.DefaultTemplate, zeroshot.CheckTemplate,
		[]string{"a photo", ""}, "the prompt of each label: {} stands for the label")
	fl.count(&f.top, "top", 5, 1, "how many labels to print per image")
	fs.BoolVar(&f.json, "json", false, "one JSON object per image and line, with every label's probability")
	fl.count(&f.batch, "batch", 16, 1, "images per forward pass")
	fl.enum(&f.dtype, "dtype", "fp32", dtypes, "number format of the matrix products: fp32 or bf16")
	return cmd
}

// parseLabels splits a comma-separated list of labels, each trimmed, none
// empty or repeated.
func parseLabels(s string) ([]string, error) {
	var labels []string
	for l := range strings.SplitSeq(s, ",") {
		l = strings.TrimSpace(l)
		if l == "" {
			return nil, errors.New("must be labels separated by commas, none empty (e.g. \"cat,dog,car\")")
		}
		if slices.Contains(labels, l) {
			return nil, fmt.Errorf("label %q is given twice", l)
		}
		labels = append(labels, l)
	}
	return labels, nil
}

func runZeroshot(cmd *cobra.Command, args []string, f *zeroshotFlags) error {
	ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	if f.model == "" {
		return usageErrorf("--model is required: a Hugging Face CLIP or SigLIP folder")
	}
	if f.labels == "" {
		return usageErrorf("--labels is required: the labels, separated by commas (e.g. \"cat,dog,car\")")
	}
	labels, err := parseLabels(f.labels)
	if err != nil {
		return err
	}
	tower, err := text.LoadTower(ctx, f.model)
	if err != nil {
		return err
	}
	if err := packTower(tower, f.dtype, stderr); err != nil {
		return err
	}
	cl, err := zeroshot.New(ctx, tower, labels, []string{f.template})
	if err != nil {
		return err
	}
	img, err := loadImageTower(ctx, f.model, f.dtype, stderr)
	if err != nil {
		return err
	}
	if img.dim != cl.Dim() {
		return fmt.Errorf("the image tower's embeddings have %d values, the text tower's %d: they are not in one space", img.dim, cl.Dim())
	}
	in, err := readImageArgs(args, cmd.InOrStdin())
	if err != nil {
		return err
	}
	defer in.close()
	files := in.files
	f.batch = max(1, min(f.batch, len(files)))
	if err := img.config.CheckMemory(f.batch, false); err != nil {
		return fmt.Errorf("%w (--batch)", err)
	}
	pp := newPredictionPrinter("zeroshot", f.json, stdout, stderr)
	k := len(labels)
	err = imageBatches(in, img.config, f.batch, func(x []float32, names []string) error {
		e, err := img.embed(x, len(names))
		if err != nil {
			return err
		}
		p, err := cl.Classify(e, len(names))
		if err != nil {
			return err
		}
		for i, name := range names {
			row := p[i*k : (i+1)*k]
			r := records.Prediction{File: name, Top: topLabels(row, labels, f.top)}
			if f.json {
				r.Probs = row
			}
			pp.emit(r)
		}
		return nil
	}, func(name string, err error) { pp.emit(records.Prediction{File: name, Error: err.Error()}) })
	if err != nil {
		return err
	}
	if pp.failed > 0 {
		return fmt.Errorf("%d of %d images could not be read", pp.failed, len(files))
	}
	return nil
}

// topLabels returns the k most probable labels, most probable first (ties
// in label order).
func topLabels(p []float32, labels []string, k int) []vit.Class {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case p[a] > p[b]:
			return -1
		case p[a] < p[b]:
			return 1
		}
		return 0
	})
	out := make([]vit.Class, 0, min(k, len(p)))
	for _, i := range idx[:min(k, len(p))] {
		out = append(out, vit.Class{Index: i, Label: labels[i], Prob: float64(p[i])})
	}
	return out
}
