package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/batchrun"
	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/internal/atomicfile"
	"github.com/vitgo/vit/viz"
)

// attentionResult is one image's line of vit attention --json.
type attentionResult struct {
	File             string  `json:"file"`
	Predicted        int     `json:"predicted"`
	Label            string  `json:"label"`
	Probability      float64 `json:"probability"`
	Class            int     `json:"class"` // the class of the gradient rollout
	ClassLabel       string  `json:"class_label"`
	ClassProbability float64 `json:"class_probability"`
	Rollout          string  `json:"rollout"`
	GradientRollout  string  `json:"gradient_rollout,omitempty"` // none for a model without a classifier
	Attention        string  `json:"attention,omitempty"`
}

// attentionFlags are vit attention's flags.
type attentionFlags struct {
	model, out, fuse, class, query string
	discard                        float64
	layer, head                    int
	json                           bool
}

func attentionCommand() *cobra.Command {
	var f attentionFlags
	cmd := &cobra.Command{
		Use:   "attention --model PATH [--out DIR] [--fuse mean|max|min] [--discard F] [--class K] IMAGE...",
		Short: "attention rollout and gradient-weighted rollout heat maps of images",
		Long:  "Each argument is an image file, or - for one image read from stdin.",
		Args:  needArgs("image files or - (one image from stdin)"),
		RunE:  func(cmd *cobra.Command, args []string) error { return runAttention(cmd, args, &f) },
	}
	fs := cmd.Flags()
	fl := flags{fs}
	fs.StringVar(&f.model, "model", "", "model folder, model.safetensors file, or training run folder")
	fs.StringVar(&f.out, "out", "attention", "folder for the PNG files")
	fl.enum(&f.fuse, "fuse", "mean", fuses, "how rollout fuses the heads of a layer: mean, max or min")
	fl.rate(&f.discard, "discard", 0, "fraction of the smallest attention weights of each row dropped before rollout, in [0, 1)")
	fs.StringVar(&f.class, "class", "", "class index or label explained by the gradient-weighted rollout (default: the predicted class)")
	fl.count(&f.layer, "layer", 0, 0, "also draw the raw attention of this layer, 1-based (0: none)")
	fl.count(&f.head, "head", 0, 0, "head of --layer, 1-based (0: the mean of the heads)")
	fl.parsed(&f.query, "query", "", func(s string) error { _, _, err := parseQuery(s); return err }, []string{"1", "a,b", "-1,2"},
		"query patch `ROW,COL` of --layer, 0-based (default: the centre patch)")
	fs.BoolVar(&f.json, "json", false, "print one JSON object per image")
	return cmd
}

// parseQuery reads --query ROW,COL: two integers ≥ 0.
func parseQuery(s string) (row, col int, err error) {
	r, c, ok := strings.Cut(s, ",")
	row, e1 := strconv.Atoi(strings.TrimSpace(r))
	col, e2 := strconv.Atoi(strings.TrimSpace(c))
	if !ok || e1 != nil || e2 != nil || row < 0 || col < 0 {
		return 0, 0, errors.New("want ROW,COL: two integers ≥ 0")
	}
	return row, col, nil
}

func runAttention(cmd *cobra.Command, args []string, f *attentionFlags) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if f.model == "" {
		return usageErrorf("--model is required: a model folder, a .safetensors or .npz file, or a run folder")
	}
	opt := viz.RolloutOptions{Fuse: viz.Fuse(f.fuse), Discard: f.discard}
	if err := opt.Validate(); err != nil {
		return err
	}
	if err := atomicfile.CheckDir(f.out); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	m, err := checkpoint.LoadContext(cmd.Context(), f.model)
	if err != nil {
		return err
	}
	if err := needSoftmax(m, f.model); err != nil {
		return err
	}
	c := m.Config
	g := viz.GridOf(c)
	want := -1
	if f.class != "" {
		if err := c.CheckHead(); err != nil {
			return usageErrorf("--class %s: %v", f.class, err)
		}
		if want, err = parseClass(f.class, c); err != nil {
			return err
		}
	}
	if f.layer < 0 || f.layer > c.Depth {
		return usageErrorf("--layer %d out of range: the model has layers 1 to %d", f.layer, c.Depth)
	}
	if f.head < 0 || f.head > c.Heads {
		return usageErrorf("--head %d out of range: the model has heads 1 to %d", f.head, c.Heads)
	}
	qr, qc := g.H/2, g.W/2
	if f.query != "" {
		qr, qc, _ = parseQuery(f.query)
		if qr >= g.H || qc >= g.W {
			return usageErrorf("--query %s: the model's patch grid has rows 0 to %d and columns 0 to %d", f.query, g.H-1, g.W-1)
		}
	}
	if err := c.CheckMemory(1, true); err != nil { // the gradient rollout runs a backward pass
		return err
	}
	in, err := readImageArgs(args, "", cmd.InOrStdin())
	if err != nil {
		return err
	}
	defer in.close()
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return err
	}
	used := map[string]bool{}
	enc := json.NewEncoder(stdout)
	mf := &batchrun.Misfits{}
	defer mf.Done()
	for i, path := range in.files {
		fmt.Fprintf(stderr, "[%d/%d] %s\n", i+1, len(in.files), path)
		px, err := loadPlanar(in.path(path), in.name(path), c, mf)
		if err != nil {
			return in.describe(err)
		}
		x := c.Input().Normalize(px)
		ex, err := viz.Explain(m, x, 1, []int{want}, opt)
		if err != nil {
			return err
		}
		e := ex[0]
		name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		if path == "-" {
			name = "stdin"
		}
		base := name
		for n := 2; used[base]; n++ {
			base = fmt.Sprintf("%s-%d", name, n)
		}
		used[base] = true
		img := viz.ToImage(px, c.Channels, c.ImageHeight, c.ImageWidth)
		res := attentionResult{File: path, Predicted: e.Predicted, Label: label(c.Labels, e.Predicted), Probability: e.Probability,
			Class: e.Class, ClassLabel: label(c.Labels, e.Class), ClassProbability: e.ClassProb}
		res.Rollout = filepath.Join(f.out, fmt.Sprintf("%s-rollout-%s.png", base, fileLabel(c.Labels, e.Predicted)))
		if e.Predicted < 0 {
			res.Rollout = filepath.Join(f.out, base+"-rollout.png")
		}
		if err := viz.WritePNG(res.Rollout, viz.Overlay(img, e.Rollout, g.H, g.W)); err != nil {
			return err
		}
		if e.Gradient != nil { // nil for a model without a classifier: no class to explain
			res.GradientRollout = filepath.Join(f.out, fmt.Sprintf("%s-gradrollout-%s.png", base, fileLabel(c.Labels, e.Class)))
			if err := viz.WritePNG(res.GradientRollout, viz.Overlay(img, e.Gradient, g.H, g.W)); err != nil {
				return err
			}
		}
		if f.layer > 0 {
			probs, _, err := m.Attention(x, 1, []int{f.layer - 1})
			if err != nil {
				return err
			}
			am, err := viz.AttentionMap(probs[f.layer-1], g, c.Heads, 0, f.head-1, qr*g.W+qc)
			if err != nil {
				return err
			}
			h := "mean"
			if f.head > 0 {
				h = fmt.Sprint(f.head)
			}
			res.Attention = filepath.Join(f.out, fmt.Sprintf("%s-attention-layer%d-head%s-r%dc%d.png", base, f.layer, h, qr, qc))
			panel := viz.Overlay(img, am, g.H, g.W)
			viz.MarkPatch(panel, c.ImageHeight, c.ImageWidth, c.PixelPatch(), qr, qc)
			if err := viz.WritePNG(res.Attention, panel); err != nil {
				return err
			}
		}
		if f.json {
			if err := enc.Encode(res); err != nil {
				return err
			}
			continue
		}
		files := res.Rollout
		for _, f := range []string{res.GradientRollout, res.Attention} {
			if f != "" {
				files += " " + f
			}
		}
		if e.Predicted < 0 {
			fmt.Fprintf(stdout, "%s\t(no classifier)\t%s\n", path, files)
			continue
		}
		fmt.Fprintf(stdout, "%s\t%s (%d)\t%.2f%%\t%s\n", path, res.Label, res.Predicted, 100*res.Probability, files)
	}
	return nil
}

// parseClass reads a class given as an index or a label of c.
func parseClass(s string, c vit.Config) (int, error) {
	if k, err := strconv.Atoi(s); err == nil {
		if k < 0 || k >= c.Classes {
			return 0, usageErrorf("--class %d out of range [0, %d)", k, c.Classes)
		}
		return k, nil
	}
	for k, l := range c.Labels {
		if strings.EqualFold(l, s) {
			return k, nil
		}
	}
	return 0, usageErrorf("--class %q is neither a class index nor one of the model's labels %q", s, c.Labels)
}

// fileLabel is class k's label made safe for a file name.
func fileLabel(labels []string, k int) string {
	l := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, label(labels, k))
	if l == "" || strings.Trim(l, "_") == "" {
		return fmt.Sprint(k)
	}
	return l
}

// needSoftmax refuses, before any work, a model whose attention maps
// cannot be read: the Performer never forms its attention matrix.
func needSoftmax(m *vit.Model, path string) error {
	if m.Config.Performer() {
		return fmt.Errorf("%s uses Performer attention (FAVOR+), which never forms the attention maps that rollout and the figures read: use a model with softmax attention", path)
	}
	return nil
}
