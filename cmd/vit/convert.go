package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/checkpoint"
)

// convertFormats are the formats vit convert writes, with their writers.
var convertFormats = map[string]func(string, *vit.Model) error{
	checkpoint.FormatVit:  func(dir string, m *vit.Model) error { return checkpoint.Save(dir, m) },
	checkpoint.FormatHF:   checkpoint.SaveHF,
	checkpoint.FormatTimm: checkpoint.SaveTimm,
}

// defaultResize is each source format's own position-embedding resampling.
var defaultResize = map[string]string{
	checkpoint.FormatHF:   checkpoint.ResizeBicubic,
	checkpoint.FormatTimm: checkpoint.ResizeBicubicAntialias,
	checkpoint.FormatJAX:  checkpoint.ResizeBilinearJAX,
	// open_clip's resize_pos_embed: bicubic, antialias.
	checkpoint.FormatOpenCLIP: checkpoint.ResizeBicubicAntialias,
	checkpoint.FormatVit:      checkpoint.ResizeBicubicAntialias,
}

func convertCommand() *cobra.Command {
	var (
		from, to, format, image, resize string
		dropHead                        bool
	)
	cmd := &cobra.Command{
		Use:   "convert --from PATH --to DIR [--format vit|hf|timm] [--image N|HxW] [--resize METHOD] [--drop-head]",
		Short: "convert a checkpoint between formats (vit, Hugging Face, timm, JAX .npz) and adapt it to a new image size",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConvert(cmd.OutOrStdout(), from, to, format, image, resize, dropHead)
		},
	}
	fs := cmd.Flags()
	fl := flags{fs}
	fs.StringVar(&from, "from", "", "checkpoint to read, format detected: a vit folder, a Hugging Face folder, a timm folder, a safetensors or pytorch_model.bin file, or a JAX .npz")
	fs.StringVar(&to, "to", "", "folder to write")
	fl.enum(&format, "format", checkpoint.FormatVit, slices.Sorted(maps.Keys(convertFormats)), "format to write: vit, hf (Hugging Face transformers) or timm")
	fl.parsed(&image, "image", "", func(s string) error { _, _, err := parseSize(s); return err }, []string{"big", "0", "24x", "-3"},
		"adapt the model to images of this size, `N or HxW` (multiples of the patch), resampling its position embeddings")
	fl.enum(&resize, "resize", "", checkpoint.ResizeMethods, "position-embedding resampling for --image: "+strings.Join(checkpoint.ResizeMethods, ", ")+" (default: the source format's own)")
	fs.BoolVar(&dropHead, "drop-head", false, "keep only the body of a checkpoint with a pre-logits layer (its head becomes zeros)")
	return cmd
}

func runConvert(stdout io.Writer, from, to, format, image, resize string, dropHead bool) error {
	if from == "" || to == "" {
		return usageErrorf("--from and --to are required")
	}
	save := convertFormats[format]
	h, w, _ := parseSize(image)
	p, err := checkpoint.LoadPretrained(from)
	if err != nil {
		return err
	}
	m := p.Model
	c := m.Config
	fmt.Fprintf(stdout, "read %s: %s checkpoint, %s, %d classes\n", from, formatName(p.Format), describe(c), c.Classes)
	for _, n := range p.Notes {
		fmt.Fprintf(stdout, "  note: %s\n", n)
	}
	if m.PreLogits != nil && (dropHead || format != checkpoint.FormatVit) {
		if !dropHead {
			return fmt.Errorf("%s has a pre-logits (representation) layer of width %d before its %d-class head, which only vit's own format holds: pass --drop-head to keep the body (for fine-tuning) with a zero head", from, m.PreLogits.Out, c.Classes)
		}
		if err := m.ResetHead(c.Classes, c.Labels); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "dropped the pre-logits layer and the head: the head is zeros\n")
	}
	if image != "" && (h != c.ImageHeight || w != c.ImageWidth) {
		method := resize
		if method == "" {
			method = defaultResize[p.Format]
		}
		oh, ow := c.GridH(), c.GridW()
		if err := checkpoint.AdaptToImage(m, h, w, method); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "adapted to %d×%d images: position embeddings %d×%d → %d×%d (%s)\n", h, w, oh, ow, m.Config.GridH(), m.Config.GridW(), method)
	}
	if err := save(to, m); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s folder\n", to, formatName(format))
	return nil
}

// parseSize reads "N" or "HxW".
func parseSize(s string) (int, int, error) {
	hs, ws, pair := strings.Cut(strings.ReplaceAll(s, "×", "x"), "x")
	h, err1 := strconv.Atoi(hs)
	w, err2 := h, error(nil)
	if pair {
		w, err2 = strconv.Atoi(ws)
	}
	if err1 != nil || err2 != nil || h <= 0 || w <= 0 || h > vit.MaxSide || w > vit.MaxSide {
		return 0, 0, errors.New("want N or HxW, positive integers")
	}
	return h, w, nil
}

func formatName(f string) string {
	switch f {
	case checkpoint.FormatHF:
		return "Hugging Face"
	case checkpoint.FormatTimm:
		return "timm"
	case checkpoint.FormatJAX:
		return "JAX"
	case checkpoint.FormatOpenCLIP:
		return "OpenCLIP"
	}
	return "vit"
}
