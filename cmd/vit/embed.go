package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vitgo/vit/batchrun"
	"github.com/vitgo/vit/internal/atomicfile"
	"github.com/vitgo/vit/internal/console"
)

// embedFlags are vit embed's flags.
type embedFlags struct {
	batchFlags
	model, out, dtype, format string
}

func embedCommand() *cobra.Command {
	var (
		f     embedFlags
		texts []string
	)
	cmd := &cobra.Command{
		Use:   "embed --model PATH --out FOLDER|FILE [IMAGE_OR_DIR_OR_GLOB...] [--list FILE] | embed --model DIR --text TEXT... [--out FILE]",
		Short: "pre-head features of images, for search and clustering; text vectors of CLIP and SigLIP models",
		Long: `Each argument is an image file, a folder (walked for images), a glob ("photos/*.jpg"), or - for one image read from stdin; --list adds the paths of a list file.

--out FOLDER writes shards of --shard-size images as the run goes (embeddings-00000.jsonl, .safetensors or .parquet with --format; errors-00000.jsonl for the images that cannot be read; manifest-00000.json when a shard is complete); run the same command again after an interruption and it goes on where it stopped. --out FILE.jsonl, FILE.safetensors or FILE.parquet writes one file at the end, for small runs.

With --text (repeatable), the text tower of a Hugging Face CLIP or SigLIP folder embeds the texts instead, in the space of the model's image embeddings (not normalised); without --out they are printed as JSON lines.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("text") && len(args) > 0 {
				return usageErrorf("--text embeds texts: give no images with it (%d given)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("text") {
				return runTextEmbed(cmd, f.model, f.out, f.dtype, texts)
			}
			return runEmbed(cmd, args, &f)
		},
	}
	fs := cmd.Flags()
	fl := flags{fs}
	fs.StringVar(&f.model, "model", "", "model folder, .safetensors or .npz file, or training run folder")
	fs.StringVar(&f.out, "out", "", "output: a FOLDER of shards, or one FILE.jsonl (one {\"file\", \"features\"} per line), FILE.safetensors (tensor \"features\" [images, dim], file names in the metadata) or FILE.parquet (columns file, vector, model)")
	fl.enum(&f.format, "format", string(batchrun.JSONL), batchrun.Formats, "format of the shards in an --out folder: jsonl, safetensors or parquet")
	f.batchFlags.register(fl)
	fl.enum(&f.dtype, "dtype", "fp32", dtypes, "number format of the matrix products: fp32 or bf16")
	fs.StringArrayVar(&texts, "text", nil, "a text to embed with a CLIP or SigLIP model's text tower (repeat for several)")
	return cmd
}

func runEmbed(cmd *cobra.Command, args []string, f *embedFlags) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if f.out == "" {
		return usageErrorf("--out is required: a folder of shards, or one .jsonl, .safetensors or .parquet file")
	}
	format, oneFile := batchrun.FileFormat(f.out)
	if oneFile {
		if cmd.Flags().Changed("format") && f.format != string(format) {
			return usageErrorf("--format %s with --out %s: the file's name says %s; name a folder for shards of --format", f.format, f.out, format)
		}
		if cmd.Flags().Changed("shard-size") {
			return usageErrorf("--shard-size with --out %s: shards are written into a folder; name one", f.out)
		}
		if err := atomicfile.CheckWritable(f.out); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	} else if err := atomicfile.CheckDir(f.out); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	in, err := readImageArgs(args, f.list, cmd.InOrStdin())
	if err != nil {
		return err
	}
	defer in.close()
	m, err := loadModel(cmd.Context(), f.model, "", 0)
	if err != nil {
		return err
	}
	if err := packWeights(m, f.dtype, stderr); err != nil {
		return err
	}
	o := f.options(batchrun.Embed, in)
	name := batchrun.ModelName(f.model)
	what := fmt.Sprintf("embeddings of dimension %d", m.Config.FeatureDim())
	if !oneFile {
		return runShards(cmd, &f.batchFlags, m, in, f.out, batchrun.ShardOptions{Options: o, Format: batchrun.Format(f.format),
			ShardSize: f.shardSize, Model: name, Settings: map[string]string{"dtype": f.dtype}}, what, "embedding")
	}
	con := console.NewWriter(stderr)
	bar, progress := f.bar(stderr, len(in.files), "embedding")
	o.Progress = progress
	sum, err := batchrun.WriteFile(cmd.Context(), m, in.files, f.out, format, name, o, func(r batchrun.Result) {
		con.Printf("%s: %v", cmd.CommandPath(), r.Err)
	})
	finish(bar)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d %s written to %s\n", sum.Images, what, f.out)
	return failures(sum, len(in.files), "")
}
