package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vitgo/vit/internal/atomicfile"
	"github.com/vitgo/vit/safetensors"
	"github.com/vitgo/vit/text"
)

// runTextEmbed is vit embed --text: the text tower of a CLIP or SigLIP
// model turns each text into a vector of the space its images are
// embedded in (get_text_features: projected, not normalised). Without
// --out the vectors go to stdout, one JSON object per line.
func runTextEmbed(cmd *cobra.Command, model, out, dtype string, texts []string) error {
	if model == "" {
		return usageErrorf("--model is required: a Hugging Face CLIP or SigLIP folder (config.json, weights and tokenizer files)")
	}
	jsonl := out == "" || strings.HasSuffix(out, ".jsonl") || strings.HasSuffix(out, ".json")
	if out != "" && !jsonl && !strings.HasSuffix(out, ".safetensors") {
		return usageErrorf("--out %s: use a .safetensors or .jsonl file name", out)
	}
	if out != "" {
		if err := atomicfile.CheckWritable(out); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	tower, err := text.LoadTower(cmd.Context(), model)
	if err != nil {
		return err
	}
	if err := packTower(tower, dtype, cmd.ErrOrStderr()); err != nil {
		return err
	}
	e, err := tower.EmbedTexts(cmd.Context(), texts)
	if err != nil {
		return err
	}
	dim := tower.OutDim()
	write := func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for i, t := range texts {
			if err := enc.Encode(map[string]any{"text": t, "features": e[i*dim : (i+1)*dim]}); err != nil {
				return err
			}
		}
		return nil
	}
	switch {
	case out == "":
		return write(cmd.OutOrStdout())
	case jsonl:
		err = atomicfile.WriteFile(out, write, 0o644)
	default:
		list, _ := json.Marshal(texts)
		err = safetensors.WriteFile(out, []safetensors.Tensor{{Name: "features", Shape: []int{len(texts), dim}, Data: e}},
			map[string]string{"texts": string(list), "model": tower.Kind.String()})
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%d text embeddings of dimension %d written to %s\n", len(texts), dim, out)
	return nil
}

// packTower packs a text tower's weights in the number format dtype.
func packTower(t *text.Tower, dtype string, stderr io.Writer) error {
	dt, err := inferenceDType(dtype, stderr)
	if err != nil {
		return err
	}
	t.Pack(dt)
	return nil
}
