package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/checkpoint"
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
	GradientRollout  string  `json:"gradient_rollout"`
	Attention        string  `json:"attention,omitempty"`
}

func runAttention(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("attention", "--model PATH [--out DIR] [--fuse mean|max|min] [--discard F] [--class K] IMAGE...", stderr)
	model := fs.String("model", "", "model folder, model.safetensors file, or training run folder")
	out := fs.String("out", "attention", "folder for the PNG files")
	fuse := fs.String("fuse", "mean", "how rollout fuses the heads of a layer: mean, max or min")
	discard := fs.Float64("discard", 0, "fraction of the smallest attention weights of each row dropped before rollout, in [0, 1)")
	class := fs.String("class", "", "class index or label explained by the gradient-weighted rollout (default: the predicted class)")
	layer := fs.Int("layer", 0, "also draw the raw attention of this layer, 1-based (0: none)")
	head := fs.Int("head", 0, "head of --layer, 1-based (0: the mean of the heads)")
	query := fs.String("query", "", "query patch ROW,COL of --layer, 0-based (default: the centre patch)")
	jsonOut := fs.Bool("json", false, "print one JSON object per image")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *model == "" || fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	opt := viz.RolloutOptions{Fuse: viz.Fuse(*fuse), Discard: *discard}
	if err := opt.Validate(); err != nil {
		return err
	}
	m, err := checkpoint.Load(*model)
	if err != nil {
		return err
	}
	c := m.Config
	g := viz.GridOf(c)
	want := -1
	if *class != "" {
		if want, err = parseClass(*class, c); err != nil {
			return err
		}
	}
	if *layer < 0 || *layer > c.Depth {
		return fmt.Errorf("--layer %d out of range: the model has layers 1 to %d", *layer, c.Depth)
	}
	if *head < 0 || *head > c.Heads {
		return fmt.Errorf("--head %d out of range: the model has heads 1 to %d", *head, c.Heads)
	}
	qr, qc := g.H/2, g.W/2
	if *query != "" {
		r, col, ok := strings.Cut(*query, ",")
		var e1, e2 error
		qr, e1 = strconv.Atoi(strings.TrimSpace(r))
		qc, e2 = strconv.Atoi(strings.TrimSpace(col))
		if !ok || e1 != nil || e2 != nil || qr < 0 || qr >= g.H || qc < 0 || qc >= g.W {
			return fmt.Errorf("--query %q: want ROW,COL with row in [0, %d) and column in [0, %d)", *query, g.H, g.W)
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	used := map[string]bool{}
	enc := json.NewEncoder(stdout)
	mf := &misfits{in: c.Input()}
	defer mf.done()
	for i, path := range fs.Args() {
		fmt.Fprintf(stderr, "[%d/%d] %s\n", i+1, fs.NArg(), path)
		px, err := loadPlanar(path, c, mf)
		if err != nil {
			return err
		}
		x := c.Input().Normalize(px)
		ex, err := viz.Explain(m, x, 1, []int{want}, opt)
		if err != nil {
			return err
		}
		e := ex[0]
		base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		for n := 2; used[base]; n++ {
			base = fmt.Sprintf("%s-%d", strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), n)
		}
		used[base] = true
		img := viz.ToImage(px, c.Channels, c.ImageHeight, c.ImageWidth)
		res := attentionResult{File: path, Predicted: e.Predicted, Label: label(c.Labels, e.Predicted), Probability: e.Probability,
			Class: e.Class, ClassLabel: label(c.Labels, e.Class), ClassProbability: e.ClassProb}
		res.Rollout = filepath.Join(*out, fmt.Sprintf("%s-rollout-%s.png", base, fileLabel(c.Labels, e.Predicted)))
		if err := viz.WritePNG(res.Rollout, viz.Overlay(img, e.Rollout, g.H, g.W)); err != nil {
			return err
		}
		res.GradientRollout = filepath.Join(*out, fmt.Sprintf("%s-gradrollout-%s.png", base, fileLabel(c.Labels, e.Class)))
		if err := viz.WritePNG(res.GradientRollout, viz.Overlay(img, e.Gradient, g.H, g.W)); err != nil {
			return err
		}
		if *layer > 0 {
			probs, _, err := m.Attention(x, 1, []int{*layer - 1})
			if err != nil {
				return err
			}
			am, err := viz.AttentionMap(probs[*layer-1], g, c.Heads, 0, *head-1, qr*g.W+qc)
			if err != nil {
				return err
			}
			h := "mean"
			if *head > 0 {
				h = fmt.Sprint(*head)
			}
			res.Attention = filepath.Join(*out, fmt.Sprintf("%s-attention-layer%d-head%s-r%dc%d.png", base, *layer, h, qr, qc))
			panel := viz.Overlay(img, am, g.H, g.W)
			viz.MarkPatch(panel, c.ImageHeight, c.ImageWidth, c.PixelPatch(), qr, qc)
			if err := viz.WritePNG(res.Attention, panel); err != nil {
				return err
			}
		}
		if *jsonOut {
			if err := enc.Encode(res); err != nil {
				return err
			}
			continue
		}
		files := res.Rollout + " " + res.GradientRollout
		if res.Attention != "" {
			files += " " + res.Attention
		}
		fmt.Fprintf(stdout, "%s\t%s (%d)\t%.2f%%\t%s\n", path, res.Label, res.Predicted, 100*res.Probability, files)
	}
	return nil
}

// parseClass reads a class given as an index or a label of c.
func parseClass(s string, c vit.Config) (int, error) {
	if k, err := strconv.Atoi(s); err == nil {
		if k < 0 || k >= c.Classes {
			return 0, fmt.Errorf("--class %d out of range [0, %d)", k, c.Classes)
		}
		return k, nil
	}
	for k, l := range c.Labels {
		if strings.EqualFold(l, s) {
			return k, nil
		}
	}
	return 0, fmt.Errorf("--class %q is neither a class index nor one of the model's labels %q", s, c.Labels)
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
