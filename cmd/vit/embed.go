package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vitgo/vit/internal/atomicfile"
	"github.com/vitgo/vit/internal/console"
	"github.com/vitgo/vit/records"
	"github.com/vitgo/vit/safetensors"
)

func embedCommand() *cobra.Command {
	var (
		model, out, dtype string
		batch             int
		texts             []string
	)
	images := needArgs("image files, folders of images or - (one image from stdin)")
	cmd := &cobra.Command{
		Use:   "embed --model PATH --out FILE IMAGE_OR_DIR... | embed --model DIR --text TEXT... [--out FILE]",
		Short: "pre-head features of images, for search and clustering; text vectors of CLIP and SigLIP models",
		Long: "Each argument is an image file, a folder (walked for images), or - for one image read from stdin. " +
			"With --text (repeatable), the text tower of a Hugging Face CLIP or SigLIP folder embeds the texts instead, " +
			"in the space of the model's image embeddings (not normalised); without --out they are printed as JSON lines.",
		Args: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("text") {
				if len(args) > 0 {
					return usageErrorf("--text embeds texts: give no images with it (%d given)", len(args))
				}
				return nil
			}
			return images(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("text") {
				return runTextEmbed(cmd, model, out, dtype, texts)
			}
			return runEmbed(cmd, args, model, out, dtype, batch)
		},
	}
	fs := cmd.Flags()
	fl := flags{fs}
	fs.StringVar(&model, "model", "", "model folder, .safetensors or .npz file, or training run folder")
	fs.StringVar(&out, "out", "", "output: FILE.safetensors (tensor \"features\" [images, dim], file names in the metadata) or FILE.jsonl (one {\"file\", \"features\"} per line)")
	fl.count(&batch, "batch", 16, 1, "images per forward pass")
	fl.enum(&dtype, "dtype", "fp32", dtypes, "number format of the matrix products: fp32 or bf16")
	fs.StringArrayVar(&texts, "text", nil, "a text to embed with a CLIP or SigLIP model's text tower (repeat for several)")
	return cmd
}

func runEmbed(cmd *cobra.Command, args []string, model, out, dtype string, batch int) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if out == "" {
		return usageErrorf("--out is required: a .safetensors or .jsonl file")
	}
	jsonl := strings.HasSuffix(out, ".jsonl") || strings.HasSuffix(out, ".json")
	if !jsonl && !strings.HasSuffix(out, ".safetensors") {
		return usageErrorf("--out %s: use a .safetensors or .jsonl file name", out)
	}
	if err := atomicfile.CheckWritable(out); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	m, err := loadModel(cmd.Context(), model, "", 0)
	if err != nil {
		return err
	}
	c := m.Config
	if err := packWeights(m, dtype, stderr); err != nil {
		return err
	}
	in, err := readImageArgs(args, cmd.InOrStdin())
	if err != nil {
		return err
	}
	defer in.close()
	files := in.files
	batch = max(1, min(batch, len(files))) // no batch larger than the images
	if err := c.CheckMemory(batch, false); err != nil {
		return fmt.Errorf("%w (--batch)", err)
	}
	var names []string
	var feats []float32
	failed := 0
	con := console.NewWriter(stderr)
	bar := console.NewBar(con, len(files), "embedding")
	err = imageBatches(in, c, batch, func(x []float32, batchNames []string) error {
		f, err := m.Features(x, len(batchNames))
		if err != nil {
			return err
		}
		feats = append(feats, f...)
		names = append(names, batchNames...)
		bar.Add(len(batchNames))
		return nil
	}, func(f string, err error) {
		con.Printf("vit embed: %v", err)
		bar.Add(1)
		failed++
	})
	bar.Finish()
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("none of the %d images could be read: %s not written", len(files), out)
	}
	if jsonl {
		err = atomicfile.WriteFile(out, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			for i, n := range names {
				if err := enc.Encode(records.Embedding{File: n, Features: feats[i*c.Dim : (i+1)*c.Dim]}); err != nil {
					return err
				}
			}
			return nil
		}, 0o644)
	} else {
		fileList, _ := json.Marshal(names)
		err = safetensors.WriteFile(out, []safetensors.Tensor{{Name: "features", Shape: []int{len(names), c.Dim}, Data: feats}},
			map[string]string{"files": string(fileList), "pool": map[bool]string{true: "cls", false: "gap"}[c.ClassToken()]})
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d embeddings of dimension %d written to %s\n", len(names), c.Dim, out)
	if failed > 0 {
		return fmt.Errorf("%d of %d images could not be read", failed, len(files))
	}
	return nil
}
