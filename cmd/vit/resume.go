package main

import (
	"cmp"
	"fmt"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/train"
)

// resumeConflict returns an error naming the first flag given to vit train
// --resume whose value contradicts the run's recipe or model, with both
// values; flags equal to the run's are fine. The schedule, data order and
// model of a run are fixed when it starts.
func resumeConflict(fs *pflag.FlagSet, tr *train.Trainer) error {
	o, c := tr.Options, *tr.Model.Spec()
	f32 := func(v float32) func(string) (string, bool) {
		return func(s string) (string, bool) {
			g, err := strconv.ParseFloat(s, 64)
			return strconv.FormatFloat(float64(v), 'g', -1, 32), err == nil && float32(g) == v
		}
	}
	num := func(v int) func(string) (string, bool) {
		return func(s string) (string, bool) { return strconv.Itoa(v), s == strconv.Itoa(v) }
	}
	str := func(v, unset string) func(string) (string, bool) {
		if v == "" {
			v = unset
		}
		return func(s string) (string, bool) { return v, s == v }
	}
	checks := map[string]func(given string) (run string, same bool){
		"epochs": num(o.Epochs), "steps": num(o.Steps), "batch": num(o.Batch),
		"lr": f32(o.LR), "weight-decay": f32(o.WeightDecay), "optimizer": str(o.Optimizer, ""),
		"seed": func(s string) (string, bool) {
			return strconv.FormatUint(o.Seed, 10), s == strconv.FormatUint(o.Seed, 10)
		},
		"augment": str(augmentName(o.Augment), ""),
		"cutmix":  f32(o.Mix.CutMix), "mixup": f32(o.Mix.Mixup), "mix-prob": f32(cmp.Or(o.Mix.Prob, 1)),
		"mix-off-epoch": num(o.MixOffEpoch), "replicas": num(o.Replicas), "val": num(o.ValidationSize),
		"arch": str(c.Arch, "vit"), "width": num(c.Width),
		"patch": num(c.Patch), "dim": num(c.Dim), "depth": num(c.Depth), "heads": num(c.Heads), "mlp": num(c.MLPDim),
		"image": num(c.ImageHeight), "channels": num(c.Channels), "classes": num(c.Classes),
		"pool": str(c.Pool, "cls"), "pos-embed": str(c.PosEmbed, "learned"), "attention": str(c.Attention, "softmax"),
		"dropout": f32(c.Dropout), "attention-dropout": f32(c.AttentionDropout), "drop-path": f32(c.DropPath),
		"features": num(c.Features), "redraw-every": num(c.RedrawEvery),
		"stem": func(s string) (string, bool) {
			run := "none"
			if len(c.Stem) > 0 {
				run = vit.FormatStem(c.Stem)
			}
			if s == "none" || s == "" {
				return run, len(c.Stem) == 0
			}
			stem, err := vit.ParseStem(s)
			return run, err == nil && vit.FormatStem(stem) == run
		},
		"model": func(s string) (string, bool) {
			p, err := vit.Preset(s, c.ImageHeight, c.Channels, c.Classes)
			run := fmt.Sprintf("dim %d, depth %d, %d heads, MLP %d, patch %d", c.Dim, c.Depth, c.Heads, c.MLPDim, c.Patch)
			return run, err == nil && p.Dim == c.Dim && p.Depth == c.Depth && p.Heads == c.Heads && p.MLPDim == c.MLPDim && p.Patch == c.Patch
		},
		"recipe": func(s string) (string, bool) {
			r, err := train.LookupRecipe(s)
			run := fmt.Sprintf("batch %d, lr %g, %s", o.Batch, o.LR, o.Optimizer)
			return run, err == nil && r.Options.Batch == o.Batch && r.Options.LR == o.LR && r.Options.Optimizer == o.Optimizer
		},
	}
	var err error
	fs.Visit(func(f *pflag.Flag) {
		check, ok := checks[f.Name]
		if !ok || err != nil {
			return
		}
		if run, same := check(f.Value.String()); !same {
			err = fmt.Errorf("--%s %s contradicts the run being resumed, which has %s: a resumed run keeps its recipe and model (leave --%s out, or start a new run with --out)",
				f.Name, f.Value, run, f.Name)
		}
	})
	return err
}

// augmentName is the --augment value that gives a, as far as it says.
func augmentName(a data.Augment) string {
	switch {
	case a.PadCrop > 0 && a.HFlip:
		return "crop-flip"
	case a.PadCrop > 0:
		return "crop"
	case a.HFlip:
		return "flip"
	}
	return "none"
}
