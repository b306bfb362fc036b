package vit

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/vitgo/vit/internal/memlimit"
)

// TestMemoryMatchesModel checks the arithmetic of Config.Memory and
// Config.NumParams against what New and NewWorkspace allocate.
func TestMemoryMatchesModel(t *testing.T) {
	base := Config{ImageHeight: 16, ImageWidth: 16, Channels: 3, Patch: 4, Dim: 16, Depth: 2, Heads: 2, MLPDim: 24, Classes: 5}
	stem, _ := ParseStem("8:3:1:ln,12:3:2")
	for name, edit := range map[string]func(*Config){
		"plain":     func(*Config) {},
		"gap":       func(c *Config) { c.Pool = "gap" },
		"sincos":    func(c *Config) { c.PosEmbed = "sincos" },
		"no-bias":   func(c *Config) { c.NoQKVBias = true },
		"dropout":   func(c *Config) { c.Dropout, c.AttentionDropout, c.DropPath = 0.1, 0.1, 0.1 },
		"stem":      func(c *Config) { c.Stem, c.Patch = stem, 1 },
		"stem-p2":   func(c *Config) { c.Stem, c.Patch = stem, 2 },
		"performer": func(c *Config) { c.Attention, c.Features = "performer", 6 },
		"dinov2": func(c *Config) {
			c.Registers, c.LayerScale, c.FFN, c.PosGridH, c.PosGridW, c.PosResize = 4, true, "swiglu", 5, 3, "bicubic"
		},
		"clip":                func(c *Config) { c.NormPre, c.NoPatchBias, c.Act, c.EmbedDim = true, true, "quick_gelu", 7 },
		"siglip":              func(c *Config) { c.Pool, c.NoClassToken = "map", true },
		"avg":                 func(c *Config) { c.Pool = "avg" },
		"deit":                func(c *Config) { c.DistToken, c.DropPath = true, 0.1 },
		"jax":                 func(c *Config) { c.RepresentationSize = 9 },
		"learned-2d-deit-reg": func(c *Config) { c.PosEmbed, c.DistToken, c.Registers = "learned-2d", true, 3 },
		"sincos-deit":         func(c *Config) { c.PosEmbed, c.DistToken = "sincos", true },
		"none-avg-reg":        func(c *Config) { c.PosEmbed, c.Pool, c.Registers = "none", "avg", 2 },
		"relative":            func(c *Config) { c.PosEmbed = "relative" },
		"relative-siglip":     func(c *Config) { c.PosEmbed, c.Pool, c.NoClassToken, c.LayerScale = "relative", "map", true, true },
	} {
		c := base
		edit(&c)
		m, err := New(c, 1)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got, want := c.NumParams(), m.NumParams(); got != want {
			t.Errorf("%s: NumParams %d, model has %d", name, got, want)
		}
		var all int64
		for _, p := range m.Params() {
			all += 4 * int64(p.Size())
		}
		for _, train := range []bool{false, true} {
			mem := c.Memory(3, train)
			if mem.Params != all {
				t.Errorf("%s: Params %d bytes, model has %d", name, mem.Params, all)
			}
			ws := m.NewWorkspace(3, train).Bytes()
			// Workspace.Bytes leaves out a Performer's attention state,
			// which Memory counts.
			if got := mem.Activations; got != ws && !(c.Performer() && got > ws) {
				t.Errorf("%s, train %v: activations %d bytes, the workspace holds %d", name, train, got, ws)
			}
		}
	}
}

// TestValidateRefusesHugeConfigs: sizes from a hostile config.json are
// refused by Validate, before New or Zero allocate. It runs under a 2 GiB
// address-space limit (internal/memlimit): a regression allocates and dies
// there, out of memory.
func TestValidateRefusesHugeConfigs(t *testing.T) {
	if !memlimit.Child(t, 2<<30) {
		return
	}
	ok := Config{ImageHeight: 224, ImageWidth: 224, Channels: 3, Patch: 16, Dim: 768, Depth: 12, Heads: 12, MLPDim: 3072, Classes: 1000}
	for name, edit := range map[string]func(*Config){
		"dim 1e9":                func(c *Config) { c.Dim, c.Heads = 1_000_000_000, 1 },
		"depth 100000, dim 2^20": func(c *Config) { c.Depth, c.Dim, c.Heads = 100_000, 1<<20, 1 },
		"image 100000, patch 1":  func(c *Config) { c.ImageHeight, c.ImageWidth, c.Patch = 100_000, 100_000, 1 },
		"image 2^40":             func(c *Config) { c.ImageHeight, c.ImageWidth = 1<<40, 1<<40 },
		"classes 2^40":           func(c *Config) { c.Classes = 1 << 40 },
		// Strides of 2³² multiply to 0 in an int: Validate divided by it.
		"stem strides 2^32": func(c *Config) { c.Stem = []StemConv{{8, 3, 1 << 32, false}, {8, 3, 1 << 32, false}} },
		"stem strides": func(c *Config) {
			c.Stem = []StemConv{{8, 3, 1 << 20, false}, {8, 3, 1 << 20, false}, {8, 3, 1 << 20, false}, {8, 3, 1 << 20, false}}
		},
	} {
		c := ok
		edit(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", name)
		}
		if _, err := Zero(c); err == nil {
			t.Errorf("%s: Zero accepted it", name)
		}
		if _, err := New(c, 1); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("B/16: %v", err)
	}
}

func TestCheckMemory(t *testing.T) {
	c, err := Preset("B/16", 224, 3, 1000)
	if err != nil {
		t.Fatal(err)
	}
	err = c.CheckMemory(1_000_000_000, false)
	var me *MemoryError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "PiB of activations") || !strings.Contains(err.Error(), "smaller batch") {
		t.Fatalf("B/16 at batch 1e9: %v", err)
	}
	if me.Need.Activations < 1<<50 {
		t.Errorf("B/16 at batch 1e9: %s of activations, want over a PiB", FormatBytes(me.Need.Activations))
	}
	h1, err := Preset("H/1", 224, 3, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := h1.CheckMemory(1, true); !errors.As(err, &me) {
		t.Errorf("training H/1 at batch 1: %v, want a MemoryError", err)
	}
	if err := c.CheckMemory(1, false); err != nil {
		t.Errorf("B/16 at batch 1: %v", err)
	}
	if err := c.CheckMemory(0, true); err == nil {
		t.Error("batch 0 accepted")
	}
	if n, ok := AvailableMemory(); ok && n <= 0 {
		t.Errorf("AvailableMemory %d", n)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 23 << 30: "23.0 GiB", 1 << 62: "4.0 EiB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// Validate refuses an input preparation that would give NaN logits or fail
// on the first image (a Std of 0 gave NaN probabilities in vit predict and a
// panic in vit eval), and NaN dropout rates.
func TestValidateRefusesBadInputPreparation(t *testing.T) {
	good := Config{ImageHeight: 28, ImageWidth: 28, Channels: 1, Patch: 7, Dim: 16, Depth: 1, Heads: 2, MLPDim: 32, Classes: 10,
		Mean: []float32{0.5}, Std: []float32{0.25}, CropPct: 0.875, Resample: "bicubic"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	nan := float32(math.NaN())
	for name, bad := range map[string]func(c *Config){
		"std 0":            func(c *Config) { c.Std = []float32{0} },
		"std -1":           func(c *Config) { c.Std = []float32{-1} },
		"std NaN":          func(c *Config) { c.Std = []float32{nan} },
		"mean Inf":         func(c *Config) { c.Mean = []float32{float32(math.Inf(1))} },
		"2 means, 1 chan":  func(c *Config) { c.Mean = []float32{0.5, 0.5} },
		"3 stds, 1 chan":   func(c *Config) { c.Std = []float32{1, 1, 1} },
		"crop_pct -1":      func(c *Config) { c.CropPct = -1 },
		"crop_pct 2":       func(c *Config) { c.CropPct = 2 },
		"crop_pct NaN":     func(c *Config) { c.CropPct = nan },
		"resample bogus":   func(c *Config) { c.Resample = "bogus" },
		"dropout NaN":      func(c *Config) { c.Dropout = nan },
		"drop_path NaN":    func(c *Config) { c.DropPath = nan },
		"attn dropout NaN": func(c *Config) { c.AttentionDropout = nan },
	} {
		c := good
		bad(&c)
		if c.Validate() == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
