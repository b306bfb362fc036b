package checkpoint_test

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/kernels"
)

// modelOption is one model option that a saved model must keep: edit
// changes the tiny configuration, and pack, when set, packs the weights for
// inference in that number format before the logits are taken (on the model
// saved and on the one loaded).
type modelOption struct {
	name   string
	edit   func(*vit.Config)
	redraw bool // redraw the Performer features after New, as training does
	pack   *kernels.DType
}

func modelOptions() []modelOption {
	bf16 := kernels.BF16
	return []modelOption{
		{name: "softmax", edit: func(*vit.Config) {}},
		{name: "performer", edit: func(c *vit.Config) { c.Attention = "performer"; c.Features = 12 }},
		{name: "performer-redraw", edit: func(c *vit.Config) { c.Attention = "performer"; c.Features = 12; c.RedrawEvery = 5 }, redraw: true},
		{name: "gap", edit: func(c *vit.Config) { c.Pool = "gap" }},
		{name: "sincos", edit: func(c *vit.Config) { c.PosEmbed = "sincos" }},
		{name: "no-pos", edit: func(c *vit.Config) { c.PosEmbed = "none" }},
		{name: "learned-2d", edit: func(c *vit.Config) { c.PosEmbed = "learned-2d" }},
		{name: "relative", edit: func(c *vit.Config) { c.PosEmbed = "relative" }},
		{name: "hybrid", edit: func(c *vit.Config) {
			c.Stem = []vit.StemConv{{Channels: 4, Kernel: 3, Stride: 2, Norm: true}, {Channels: 6, Kernel: 1, Stride: 1}}
			c.Patch = 2
		}},
		{name: "dropout", edit: func(c *vit.Config) { c.Dropout = 0.1; c.AttentionDropout = 0.1; c.DropPath = 0.2 }},
		{name: "bf16", edit: func(*vit.Config) {}, pack: &bf16},
		{name: "dinov2-reg", edit: func(c *vit.Config) {
			c.Registers, c.LayerScale, c.FFN, c.PosGridH, c.PosGridW, c.PosResize = 2, true, "swiglu", 3, 3, "bicubic-antialias"
		}},
		{name: "clip", edit: func(c *vit.Config) { c.NormPre, c.NoPatchBias, c.Act, c.EmbedDim = true, true, "quick_gelu", 5 }},
		{name: "siglip", edit: func(c *vit.Config) { c.Pool, c.NoClassToken, c.Act = "map", true, "gelu_tanh" }},
		{name: "deit", edit: func(c *vit.Config) { c.DistToken = true }},
		{name: "avg-prelogits", edit: func(c *vit.Config) { c.Pool, c.RepresentationSize = "avg", 6 }},
		{name: "learned-2d-deit-reg", edit: func(c *vit.Config) { c.PosEmbed, c.DistToken, c.Registers = "learned-2d", true, 2 }},
		{name: "relative-siglip", edit: func(c *vit.Config) { c.PosEmbed, c.Pool, c.NoClassToken, c.LayerScale = "relative", "map", true, true }},
		{name: "sincos-deit-reg", edit: func(c *vit.Config) { c.PosEmbed, c.DistToken, c.Registers = "sincos", true, 1 }},
	}
}

// trainedLike returns a model of option o whose every learned tensor is
// random (a model fresh from New has a zero head, whose logits would not
// depend on anything below it) and, with o.redraw, whose Performer features
// were redrawn after initialisation.
func trainedLike(t *testing.T, o modelOption) *vit.Model {
	t.Helper()
	c := vit.Config{ImageHeight: 8, ImageWidth: 12, Channels: 3, Patch: 4, Dim: 8, Depth: 2, Heads: 2, MLPDim: 16, Classes: 3}
	o.edit(&c)
	m, err := vit.New(c, 11)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range m.Params() {
		if p.Buffer {
			continue
		}
		for i := range p.Data {
			p.Data[i] += float32(rng.NormFloat64() * 0.3)
		}
	}
	if o.redraw {
		m.RedrawFeatures(12345)
	}
	return m
}

// logits returns m's logits on a fixed batch, through weights packed as o asks.
func logits(t *testing.T, m *vit.Model, o modelOption) []float32 {
	t.Helper()
	if o.pack != nil {
		m.PackWeights(*o.pack)
	}
	c := m.Config
	batch := 3
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, batch*c.Channels*c.ImageHeight*c.ImageWidth)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	out, err := m.Predict(x, batch)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameBits fails t unless got and want are equal bit for bit.
func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %v, want %v (bit for bit)", what, i, got[i], want[i])
		}
	}
}

// TestSaveLoadLogits saves a model of every option with Save and loads it
// back with Load, from the folder and from its weights file: the logits
// must equal those before saving, bit for bit, and so must every tensor.
// (Performer models used to come back with the random features of seed 0,
// whatever the model had drawn.)
func TestSaveLoadLogits(t *testing.T) {
	for _, o := range modelOptions() {
		t.Run(o.name, func(t *testing.T) {
			m := trainedLike(t, o)
			want := logits(t, m, o)
			dir := filepath.Join(t.TempDir(), "model")
			if err := checkpoint.Save(dir, m); err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{dir, filepath.Join(dir, checkpoint.WeightsFile)} {
				got, err := checkpoint.Load(path)
				if err != nil {
					t.Fatal(err)
				}
				a, b := m.Params(), got.Params()
				if len(a) != len(b) {
					t.Fatalf("%d tensors after loading, want %d", len(b), len(a))
				}
				for i := range a {
					sameBits(t, b[i].Name, b[i].Data, a[i].Data)
				}
				sameBits(t, "logits after loading", logits(t, got, o), want)
			}
		})
	}
}

// TestAdaptPositionKinds adapts a model of every position embedding from
// 8×12 to 16×12 images (a 2×3 patch grid to 4×3) with the corner-aligned
// bilinear method: the tables grow, values at aligned positions are kept
// (the first and last rows, the relative bias of offset (0, 0) and the
// class token's three entries), and the adapted model runs.
func TestAdaptPositionKinds(t *testing.T) {
	for _, kind := range []string{"none", "learned", "learned-2d", "sincos", "relative"} {
		t.Run(kind, func(t *testing.T) {
			m := trainedLike(t, modelOption{edit: func(c *vit.Config) { c.PosEmbed = kind }})
			var row, rel []float32
			if m.PosEmbed2D != nil {
				row = append([]float32(nil), m.PosEmbed2D.Row.Data...)
			}
			if m.Blocks[0].RelPos != nil {
				rel = append([]float32(nil), m.Blocks[0].RelPos.Table.Data...)
			}
			if err := checkpoint.AdaptToImage(m, 16, 12, checkpoint.ResizeBilinearJAX); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Predict(make([]float32, 3*16*12), 1); err != nil {
				t.Fatal(err)
			}
			if n := m.NumParams(); n != m.Config.NumParams() {
				t.Errorf("%d parameters after adapting, the config counts %d", n, m.Config.NumParams())
			}
			if row != nil {
				r := m.PosEmbed2D.Row
				if r.Shape[0] != 4 {
					t.Fatalf("row table of %v after adapting, want 4 rows", r.Shape)
				}
				sameBits(t, "first row", r.Data[:4], row[:4])
				sameBits(t, "last row", r.Data[3*4:], row[4:])
			}
			if rel != nil {
				tb := m.Blocks[0].RelPos.Table
				heads := 2
				if want := (7*5 + 3) * heads; len(tb.Data) != want {
					t.Fatalf("relative table of %d values after adapting, want %d", len(tb.Data), want)
				}
				// Offset (0, 0) is the centre of the 3×5 grid and of the 7×5 one.
				sameBits(t, "offset (0, 0)", tb.Data[(3*5+2)*heads:][:heads], rel[(1*5+2)*heads:][:heads])
				sameBits(t, "class entries", tb.Data[35*heads:], rel[15*heads:])
			}
		})
	}
}

// TestAdaptPrefixTokens adapts models with a class token, a distillation
// token and register tokens from 8×12 to 16×12 images: a learned table
// keeps the class and distillation tokens' rows bit for bit and grows to
// 2 + 4·3 rows (register tokens have none), learned-2d grows its row table,
// and both adapted models run, their parameters counted as the config
// counts them. A table stored at a grid of its own (DINOv2) is left as it
// is.
func TestAdaptPrefixTokens(t *testing.T) {
	for _, kind := range []string{"learned", "learned-2d", "learned-grid"} {
		t.Run(kind, func(t *testing.T) {
			m := trainedLike(t, modelOption{edit: func(c *vit.Config) {
				c.PosEmbed, c.DistToken, c.Registers = kind, true, 2
				if kind == "learned-grid" {
					c.PosEmbed, c.PosGridH, c.PosGridW, c.PosResize = "learned", 3, 3, checkpoint.ResizeBicubic
				}
			}})
			var pos []float32
			if m.PosEmbed != nil {
				pos = append([]float32(nil), m.PosEmbed.Data...)
			}
			if err := checkpoint.AdaptToImage(m, 16, 12, checkpoint.ResizeBilinearJAX); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Predict(make([]float32, 3*16*12), 1); err != nil {
				t.Fatal(err)
			}
			if n := m.NumParams(); n != m.Config.NumParams() {
				t.Errorf("%d parameters after adapting, the config counts %d", n, m.Config.NumParams())
			}
			d := m.Config.Dim
			switch kind {
			case "learned":
				if got := m.PosEmbed.Shape; got[0] != 2+4*3 {
					t.Fatalf("position table %v after adapting, want %d rows", got, 2+4*3)
				}
				sameBits(t, "class and distillation rows", m.PosEmbed.Data[:2*d], pos[:2*d])
			case "learned-2d":
				if r := m.PosEmbed2D.Row; r.Shape[0] != 4 {
					t.Fatalf("row table %v after adapting, want 4 rows", r.Shape)
				}
			case "learned-grid":
				sameBits(t, "the stored table", m.PosEmbed.Data, pos)
			}
		})
	}
}
