package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/batchrun"
	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/internal/atomicfile"
	"github.com/vitgo/vit/internal/console"
	"github.com/vitgo/vit/kernels"
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

// loadNetwork is loadModel for commands that also take networks of other
// families (vit.Config.Arch): a ResNet loads as itself, and takes no
// attention.
func loadNetwork(ctx context.Context, path, attention string, features int) (vit.Network, error) {
	if path == "" || attention != "" || features > 0 {
		return loadModel(ctx, path, attention, features)
	}
	return checkpoint.LoadNetworkContext(ctx, path)
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

// prediction is a line of vit predict --json and vit zeroshot --json.
type prediction = batchrun.Prediction

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

func (pp *predictionPrinter) emit(p prediction) {
	if p.Error != "" {
		pp.failed++
		console.NewWriter(pp.stderr).Printf("vit %s: %s: %s", pp.command, p.File, p.Error)
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
	batchFlags
	model, attention, dtype, out string
	top, features                int
	json, logits                 bool
}

func predictCommand() *cobra.Command {
	var f predictFlags
	cmd := &cobra.Command{
		Use:   "predict --model PATH [--top K] [--json] [--logits] [--out FOLDER] [IMAGE_OR_DIR_OR_GLOB...] [--list FILE]",
		Short: "classify images with a model: top classes and probabilities",
		Long: `Each argument is an image file, a folder (walked for images), a glob ("photos/*.jpg"), or - for one image read from stdin; --list adds the paths of a list file.

Without --out the predictions are printed, one line per image (one JSON object with --json). --out FOLDER writes them as JSON lines in shards of --shard-size images as the run goes (predictions-00000.jsonl; errors-00000.jsonl for the images that cannot be read; manifest-00000.json when a shard is complete); run the same command again after an interruption and it goes on where it stopped.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runPredict(cmd, args, &f) },
	}
	fs := cmd.Flags()
	fl := flags{fs}
	fs.StringVar(&f.model, "model", "", "model folder, .safetensors or .npz file, or training run folder")
	fl.count(&f.top, "top", 5, 1, "how many classes to print per image")
	fs.BoolVar(&f.json, "json", false, "one JSON object per image and line")
	fs.BoolVar(&f.logits, "logits", false, "include the raw logits (with --json or --out)")
	fs.StringVar(&f.out, "out", "", "a FOLDER for shards of JSON lines (resumable), instead of printing")
	f.batchFlags.register(fl)
	fl.enum(&f.attention, "attention", "", attentions, "run with softmax or performer attention instead of the model's own")
	fl.count(&f.features, "features", 0, 1, "Performer random features per head (default ⌊dh·ln dh⌋)")
	fl.enum(&f.dtype, "dtype", "fp32", dtypes, "number format of the matrix products: fp32 or bf16")
	return cmd
}

func runPredict(cmd *cobra.Command, args []string, f *predictFlags) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if f.out != "" {
		if _, oneFile := batchrun.FileFormat(f.out); oneFile {
			return usageErrorf("--out %s: vit predict writes a folder of shards there; name a folder, or leave --out out to print", f.out)
		}
		if err := atomicfile.CheckDir(f.out); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	} else if cmd.Flags().Changed("shard-size") {
		return usageErrorf("--shard-size without --out: shards are written into an --out folder")
	}
	in, err := readImageArgs(args, f.list, cmd.InOrStdin())
	if err != nil {
		return err
	}
	defer in.close()
	m, err := loadModel(cmd.Context(), f.model, f.attention, f.features)
	if err != nil {
		return err
	}
	if err := packWeights(m, f.dtype, stderr); err != nil {
		return err
	}
	o := f.options(batchrun.Predict, in)
	o.Top, o.Logits = f.top, f.logits && (f.json || f.out != "")
	if f.out != "" {
		return runShards(cmd, &f.batchFlags, m, in, f.out, batchrun.ShardOptions{Options: o, Format: batchrun.JSONL,
			ShardSize: f.shardSize, Model: batchrun.ModelName(f.model), Settings: map[string]string{"dtype": f.dtype}},
			"predictions", "predicting")
	}
	con := console.NewWriter(stderr)
	enc := json.NewEncoder(stdout)
	sum, err := batchrun.Stream(cmd.Context(), m, in.files, o, func(r batchrun.Result) error {
		if r.Err != nil {
			con.Printf("%s: %v", cmd.CommandPath(), r.Err)
		}
		switch {
		case f.json && r.Err != nil:
			return enc.Encode(batchrun.Prediction{File: r.File, Error: batchrun.FailureOf(r).Error})
		case f.json:
			return enc.Encode(batchrun.Prediction{File: r.File, Top: r.Top, Logits: r.Logits})
		case r.Err != nil:
			return nil
		}
		parts := make([]string, len(r.Top))
		for i, t := range r.Top {
			parts[i] = fmt.Sprintf("%s %.1f%%", t.Label, 100*t.Prob)
		}
		_, err := fmt.Fprintf(stdout, "%s: %s\n", r.File, strings.Join(parts, ", "))
		return err
	})
	if err != nil {
		return err
	}
	return failures(sum, len(in.files), "")
}
