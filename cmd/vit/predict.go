package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/internal/console"
	"github.com/vitgo/vit/kernels"
)

// imageExts are the file types predict, embed and attention read from folders.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".bmp": true, ".tif": true, ".tiff": true, ".webp": true}

// expandImages turns arguments into image paths: files as given, folders
// walked for image files (sorted).
func expandImages(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			out = append(out, a) // reported when read, with the other bad images
			continue
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && imageExts[strings.ToLower(filepath.Ext(p))] {
				found = append(found, p)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// loadModel loads a model and optionally switches its attention.
func loadModel(path, attention string, features int) (*vit.Model, error) {
	if path == "" {
		return nil, fmt.Errorf("--model is required: a model folder, a .safetensors or .npz file, or a run folder")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	m, err := checkpoint.LoadContext(ctx, path)
	if err != nil {
		return nil, err
	}
	if attention != "" && attention != m.Config.Attention {
		if err := m.SetAttention(attention, features, 1); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// packWeights packs m's weights for inference in the number format named
// by dtype, saying on stderr when bf16 runs without native instructions.
func packWeights(m *vit.Model, dtype string, stderr io.Writer) error {
	dt, err := kernels.ParseDType(dtype)
	if err != nil {
		return fmt.Errorf("--dtype: %w", err)
	}
	if dt == kernels.BF16 && !kernels.NativeBF16() {
		fmt.Fprintln(stderr, "bf16: this CPU has no AVX512_BF16; the products use bf16-rounded values on the fp32 kernel (bf16 numbers, fp32 speed)")
	}
	m.PackWeights(dt)
	return nil
}

type prediction struct {
	File   string      `json:"file"`
	Top    []vit.Class `json:"top,omitempty"`
	Logits []float32   `json:"logits,omitempty"`
	Error  string      `json:"error,omitempty"`
}

func runPredict(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("predict", "--model PATH [--top K] [--json] [--logits] IMAGE_OR_DIR...", stderr)
	model := fs.String("model", "", "model folder, .safetensors or .npz file, or training run folder")
	top := fs.Int("top", 5, "how many classes to print per image")
	jsonOut := fs.Bool("json", false, "one JSON object per image and line")
	withLogits := fs.Bool("logits", false, "include the raw logits (with --json)")
	batch := fs.Int("batch", 16, "images per forward pass")
	attention := fs.String("attention", "", "run with softmax or performer attention instead of the model's own")
	features := fs.Int("features", 0, "Performer random features per head")
	dtypeFlag := fs.String("dtype", "fp32", "number format of the matrix products: fp32 or bf16")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	m, err := loadModel(*model, *attention, *features)
	if err != nil {
		return err
	}
	if err := packWeights(m, *dtypeFlag, stderr); err != nil {
		return err
	}
	c := m.Config
	files, err := expandImages(fs.Args())
	if err != nil {
		return err
	}
	failed := 0
	enc := json.NewEncoder(stdout)
	emit := func(p prediction) {
		if p.Error != "" {
			failed++
			console.NewWriter(stderr).Printf("vit predict: %s", p.Error)
		}
		if *jsonOut {
			enc.Encode(p)
			return
		}
		if p.Error != "" {
			return
		}
		parts := make([]string, len(p.Top))
		for i, t := range p.Top {
			parts[i] = fmt.Sprintf("%s %.1f%%", t.Label, 100*t.Prob)
		}
		fmt.Fprintf(stdout, "%s: %s\n", p.File, strings.Join(parts, ", "))
	}
	err = imageBatches(files, c, *batch, func(x []float32, names []string) error {
		logits, err := m.Predict(x, len(names))
		if err != nil {
			return err
		}
		for i, f := range names {
			l := logits[i*c.Classes : (i+1)*c.Classes]
			p := prediction{File: f, Top: c.TopK(l, *top)}
			if *withLogits {
				p.Logits = l
			}
			emit(p)
		}
		return nil
	}, func(f string, err error) { emit(prediction{File: f, Error: err.Error()}) })
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d images could not be read", failed, len(files))
	}
	return nil
}
