package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/checkpoint"
)

// convertFormats are the formats vit convert writes, with their writers.
var convertFormats = map[string]func(string, *vit.Model) error{
	checkpoint.FormatVit:  checkpoint.Save,
	checkpoint.FormatHF:   checkpoint.SaveHF,
	checkpoint.FormatTimm: checkpoint.SaveTimm,
}

// defaultResize is each source format's own position-embedding resampling.
var defaultResize = map[string]string{
	checkpoint.FormatHF:   checkpoint.ResizeBicubic,
	checkpoint.FormatTimm: checkpoint.ResizeBicubicAntialias,
	checkpoint.FormatJAX:  checkpoint.ResizeBilinearJAX,
	checkpoint.FormatVit:  checkpoint.ResizeBicubicAntialias,
}

func runConvert(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("convert", "--from PATH --to DIR [--format vit|hf|timm] [--image N|HxW] [--resize METHOD] [--drop-head]", stderr)
	from := fs.String("from", "", "checkpoint to read, format detected: a vit folder, a Hugging Face folder, a timm folder, a safetensors or pytorch_model.bin file, or a JAX .npz")
	to := fs.String("to", "", "folder to write")
	format := fs.String("format", checkpoint.FormatVit, "format to write: vit, hf (Hugging Face transformers) or timm")
	image := fs.String("image", "", "adapt the model to images of this size, N or HxW (multiples of the patch), resampling its position embeddings")
	resize := fs.String("resize", "", "position-embedding resampling for --image: "+strings.Join(checkpoint.ResizeMethods, ", ")+" (default: the source format's own)")
	dropHead := fs.Bool("drop-head", false, "keep only the body of a checkpoint with a pre-logits layer (its head becomes zeros)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *from == "" || *to == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "vit convert: --from and --to are required")
		fs.Usage()
		return errUsage
	}
	save, ok := convertFormats[*format]
	if !ok {
		return fmt.Errorf("unknown --format %q: use vit, hf or timm", *format)
	}
	if *resize != "" && !slices.Contains(checkpoint.ResizeMethods, *resize) {
		return fmt.Errorf("unknown --resize %q: use one of %s", *resize, strings.Join(checkpoint.ResizeMethods, ", "))
	}
	var h, w int
	if *image != "" {
		var err error
		if h, w, err = parseSize(*image); err != nil {
			return err
		}
	}

	p, err := checkpoint.LoadPretrained(*from)
	if err != nil {
		return err
	}
	m := p.Model
	c := m.Config
	fmt.Fprintf(stdout, "read %s: %s checkpoint, %s, %d classes\n", *from, formatName(p.Format), describe(c), c.Classes)
	for _, n := range p.Notes {
		fmt.Fprintf(stdout, "  note: %s\n", n)
	}
	if p.PreLogits != nil {
		if !*dropHead {
			return fmt.Errorf("%s has a pre-logits (representation) layer of width %d before its %d-class head, which no output format holds: pass --drop-head to keep the body (for fine-tuning) with a zero head", *from, p.PreLogits.Out, c.Classes)
		}
		fmt.Fprintf(stdout, "dropped the pre-logits layer and the head: the head is zeros\n")
	}
	if *image != "" && (h != c.ImageHeight || w != c.ImageWidth) {
		method := *resize
		if method == "" {
			method = defaultResize[p.Format]
		}
		oh, ow := c.GridH(), c.GridW()
		if err := checkpoint.AdaptToImage(m, h, w, method); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "adapted to %d×%d images: position embeddings %d×%d → %d×%d (%s)\n", h, w, oh, ow, m.Config.GridH(), m.Config.GridW(), method)
	}
	if err := save(*to, m); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s folder\n", *to, formatName(*format))
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
	if err1 != nil || err2 != nil || h <= 0 || w <= 0 {
		return 0, 0, fmt.Errorf("bad --image %q: want N or HxW", s)
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
	}
	return "vit"
}
