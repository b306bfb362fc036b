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
