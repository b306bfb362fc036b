package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/internal/console"
	"github.com/vitgo/vit/kernels"
	"github.com/vitgo/vit/records"
)

// loadModel loads a model under ctx and optionally switches its attention
// (with features random features per head; 0 for the default).
func loadModel(ctx context.Context, path, attention string, features int) (*vit.Model, error) {
	if path == "" {
		return nil, usageErrorf("--model is required: a model folder, a .safetensors or .npz file, or a run folder")
	}
	if features > 0 && attention != "performer" {
		return nil, usageErrorf("--features %d: random features are for --attention performer", features)
	}
	m, err := checkpoint.LoadContext(ctx, path)
	if err != nil {
		return nil, err
	}
	if attention != "" && (attention != m.Config.Attention || features > 0) {
		if err := m.SetAttention(attention, features, 1); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// packWeights packs m's weights for inference in the number format named
// by dtype, saying on stderr when bf16 runs without native instructions.
func packWeights(m *vit.Model, dtype string, stderr io.Writer) error {
	dt, err := inferenceDType(dtype, stderr)
	if err != nil {
		return err
	}
	m.PackWeights(dt)
	return nil
}

// inferenceDType parses --dtype, saying on stderr when bf16 runs without
// native instructions.
func inferenceDType(dtype string, stderr io.Writer) (kernels.DType, error) {
	dt, err := kernels.ParseDType(dtype)
	if err != nil {
		return 0, fmt.Errorf("--dtype: %w", err)
	}
	if dt == kernels.BF16 && !kernels.NativeBF16() {
		fmt.Fprintln(stderr, "bf16: this CPU has no AVX512_BF16; the products use bf16-rounded values on the fp32 kernel (bf16 numbers, fp32 speed)")
	}
	return dt, nil
}

// predictionPrinter prints one prediction per image: a JSON object per
// line, or "file: label p%, ..." lines; a failed image is counted and
// reported on stderr, prefixed with the command's name.
type predictionPrinter struct {
	command        string
	json           bool
	stdout, stderr io.Writer
	enc            *json.Encoder
	failed         int
}

func newPredictionPrinter(command string, asJSON bool, stdout, stderr io.Writer) *predictionPrinter {
	return &predictionPrinter{command: command, json: asJSON, stdout: stdout, stderr: stderr, enc: json.NewEncoder(stdout)}
}

func (pp *predictionPrinter) emit(p records.Prediction) {
	if p.Error != "" {
		pp.failed++
		console.NewWriter(pp.stderr).Printf("vit %s: %s", pp.command, p.Error)
	}
	if pp.json {
		pp.enc.Encode(p)
		return
	}
	if p.Error != "" {
		return
	}
	parts := make([]string, len(p.Top))
	for i, t := range p.Top {
		parts[i] = fmt.Sprintf("%s %.1f%%", t.Label, 100*t.Prob)
	}
	fmt.Fprintf(pp.stdout, "%s: %s\n", p.File, strings.Join(parts, ", "))
}

// predictFlags are vit predict's flags.
type predictFlags struct {
	model, attention, dtype string
	top, batch, features    int
	json, logits            bool
}

func predictCommand() *cobra.Command {
	var f predictFlags
	cmd := &cobra.Command{
		Use:   "predict --model PATH [--top K] [--json] [--logits] IMAGE_OR_DIR...",
		Short: "classify images with a model: top classes and probabilities",
		Long:  "Each argument is an image file, a folder (walked for images), or - for one image read from stdin.",
		Args:  needArgs("image files, folders of images or - (one image from stdin)"),
		RunE:  func(cmd *cobra.Command, args []string) error { return runPredict(cmd, args, &f) },
	}
	fs := cmd.Flags()
	fl := flags{fs}
	fs.StringVar(&f.model, "model", "", "model folder, .safetensors or .npz file, or training run folder")
	fl.count(&f.top, "top", 5, 1, "how many classes to print per image")
	fs.BoolVar(&f.json, "json", false, "one JSON object per image and line")
	fs.BoolVar(&f.logits, "logits", false, "include the raw logits (with --json)")
	fl.count(&f.batch, "batch", 16, 1, "images per forward pass")
	fl.enum(&f.attention, "attention", "", attentions, "run with softmax or performer attention instead of the model's own")
	fl.count(&f.features, "features", 0, 1, "Performer random features per head (default ⌊dh·ln dh⌋)")
	fl.enum(&f.dtype, "dtype", "fp32", dtypes, "number format of the matrix products: fp32 or bf16")
	return cmd
}

// needArgs requires at least one positional argument, described by what.
func needArgs(what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usageErrorf("no images given: name %s", what)
		}
		return nil
	}
}

func runPredict(cmd *cobra.Command, args []string, f *predictFlags) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	m, err := loadModel(cmd.Context(), f.model, f.attention, f.features)
	if err != nil {
		return err
	}
	c := m.Config
	if err := packWeights(m, f.dtype, stderr); err != nil {
		return err
	}
	in, err := readImageArgs(args, cmd.InOrStdin())
	if err != nil {
		return err
	}
	defer in.close()
	files := in.files
	f.batch = max(1, min(f.batch, len(files))) // no batch larger than the images
	if err := c.CheckMemory(f.batch, false); err != nil {
		return fmt.Errorf("%w (--batch)", err)
	}
	pp := newPredictionPrinter("predict", f.json, stdout, stderr)
	emit := pp.emit
	err = imageBatches(in, c, f.batch, func(x []float32, names []string) error {
		logits, err := m.Predict(x, len(names))
		if err != nil {
			return err
		}
		for i, name := range names {
			l := logits[i*c.Classes : (i+1)*c.Classes]
			p := records.Prediction{File: name, Top: c.TopK(l, f.top)}
			if f.logits {
				p.Logits = l
			}
			emit(p)
		}
		return nil
	}, func(name string, err error) { emit(records.Prediction{File: name, Error: err.Error()}) })
	if err != nil {
		return err
	}
	if pp.failed > 0 {
		return fmt.Errorf("%d of %d images could not be read", pp.failed, len(files))
	}
	return nil
}
