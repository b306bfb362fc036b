package checkpoint

import (
	"context"
	"errors"
	"image"
	"path/filepath"
	"testing"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/imageio"
)

// encodersDir holds the image-encoder goldens of issue 16, written by
// testdata/encoders/gen.py from reference PyTorch forward passes.
var encodersDir = filepath.Join("..", "testdata", "encoders")

func encoderGolden(t *testing.T) map[string][]float32 {
	t.Helper()
	return goldenFile(t, filepath.Join(encodersDir, "golden.safetensors"))
}

// encoderCases are the generated checkpoints: each source's layout of each
// encoder kind, what the loader must make of it, and whether the golden has
// a photo.
var encoderCases = []struct {
	name   string
	format string
	photo  bool
	check  func(t *testing.T, p *Pretrained)
}{
	{"hf_clip", FormatHF, true, func(t *testing.T, p *Pretrained) {
		c := p.Model.Config
		if !c.NormPre || !c.NoPatchBias || c.Act != "quick_gelu" || c.EmbedDim != 8 || c.ResizeShort != 16 || c.Resample != "bicubic" || !p.Headless {
			t.Errorf("config %+v", c)
		}
	}},
	{"hf_clip_vision", FormatHF, true, func(t *testing.T, p *Pretrained) {
		if c := p.Model.Config; c.EmbedDim != 0 || c.ResizeShort != 20 {
			t.Errorf("config %+v", c)
		}
	}},
	{"hf_siglip", FormatHF, true, func(t *testing.T, p *Pretrained) {
		if c := p.Model.Config; c.Pool != "map" || !c.NoClassToken || c.Act != "gelu_tanh" || c.ResizeShort != 0 || c.ResizeTo != 0 {
			t.Errorf("config %+v", c)
		}
	}},
	{"hf_dinov2", FormatHF, true, func(t *testing.T, p *Pretrained) {
		if c := p.Model.Config; !c.LayerScale || c.PosGridH != 5 || c.GridH() != 4 || c.PosResize != "bicubic" || c.Registers != 0 {
			t.Errorf("config %+v", c)
		}
	}},
	{"hf_dinov2_reg", FormatHF, true, func(t *testing.T, p *Pretrained) {
		if c := p.Model.Config; c.Registers != 2 || c.FFN != "swiglu" || c.MLPDim != 48 || c.PosResize != "bicubic-antialias" {
			t.Errorf("config %+v", c)
		}
	}},
	{"hf_deit", FormatHF, true, func(t *testing.T, p *Pretrained) {
		if c := p.Model.Config; !c.DistToken || c.NoDistHead || c.Classes != 5 || c.Labels[0] != "cat" || c.ResizeTo != 20 {
			t.Errorf("config %+v", c)
		}
	}},
	{"timm_dinov2_reg", FormatTimm, false, func(t *testing.T, p *Pretrained) {
		if c := p.Model.Config; c.Registers != 2 || !c.LayerScale || c.FFN != "swiglu" || c.MLPDim != 32 {
			t.Errorf("config %+v", c)
		}
	}},
	{"timm_clip", FormatTimm, false, func(t *testing.T, p *Pretrained) {
		if c := p.Model.Config; !c.NormPre || !c.NoPatchBias || c.Act != "quick_gelu" || c.EmbedDim != 8 {
			t.Errorf("config %+v", c)
		}
	}},
	{"timm_siglip", FormatTimm, false, func(t *testing.T, p *Pretrained) {
		if c := p.Model.Config; c.Pool != "map" || !c.NoClassToken || c.Classes != 5 {
			t.Errorf("config %+v", c)
		}
	}},
	{"timm_deit", FormatTimm, false, func(t *testing.T, p *Pretrained) {
		if c := p.Model.Config; !c.DistToken || c.NoDistHead {
			t.Errorf("config %+v", c)
		}
	}},
	{"openclip", FormatOpenCLIP, true, func(t *testing.T, p *Pretrained) {
		if c := p.Model.Config; !c.NormPre || !c.NoPatchBias || c.Act != "quick_gelu" || c.EmbedDim != 8 || c.Heads != 2 || c.CropPct != 1 || c.LayerNormEps != 1e-5 {
			t.Errorf("config %+v", c)
		}
	}},
	{"timm_avg", FormatTimm, false, func(t *testing.T, p *Pretrained) {
		if c := p.Model.Config; c.Pool != "avg" || c.Registers != 1 || !c.ClassToken() {
			t.Errorf("config %+v", c)
		}
	}},
}

// TestEncoderGoldens loads every generated encoder checkpoint and asserts
// its image embeddings (Features) and logits within 1e-4 of the PyTorch
// reference, and for the Hugging Face ones the preprocessing of a real
// photo (the processor's tensor, then the embedding of it).
func TestEncoderGoldens(t *testing.T) {
	g := encoderGolden(t)
	img, err := imageio.Load(filepath.Join(encodersDir, "chelsea.png"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range encoderCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := LoadPretrained(filepath.Join(encodersDir, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			if p.Format != tc.format {
				t.Errorf("format %q, want %q", p.Format, tc.format)
			}
			tc.check(t, p)
			m := p.Model
			if m.Config.Headless != p.Headless {
				t.Errorf("model Headless %v, checkpoint Headless %v", m.Config.Headless, p.Headless)
			}
			if _, err := vit.Classify(context.Background(), m, image.NewGray(image.Rect(0, 0, 8, 8)), 1); (err != nil) != p.Headless ||
				(err != nil && !errors.Is(err, vit.ErrHeadless)) {
				t.Errorf("Classify of a model with Headless %v: err %v", p.Headless, err)
			}
			if p.Headless {
				// The mark is saved with the model, and a new head clears it.
				dir := filepath.Join(t.TempDir(), "m")
				if err := Save(dir, m); err != nil {
					t.Fatal(err)
				}
				back, err := Load(dir)
				if err != nil {
					t.Fatal(err)
				}
				if !back.Config.Headless {
					t.Error("saved and loaded, the model lost its Headless mark")
				}
				if err := back.ResetHead(3, nil); err != nil || back.Config.Headless {
					t.Errorf("ResetHead: err %v, Headless %v", err, back.Config.Headless)
				}
			}
			logits, feats, err := m.Outputs(g[tc.name+".x"], 2)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(t, feats, g[tc.name+".features"]); d > logitTol {
				t.Errorf("features differ from the reference by %g", d)
			}
			if want, ok := g[tc.name+".logits"]; ok {
				if d := maxDiff(t, logits, want); d > logitTol {
					t.Errorf("logits differ from the reference by %g", d)
				}
			}
			if !tc.photo {
				return
			}
			in := m.Config.Input()
			pre, err := in.Preprocessor()
			if err != nil {
				t.Fatal(err)
			}
			x, err := in.Tensor(img, pre)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(t, x, g[tc.name+".photo.x"]); d > 1e-6 {
				t.Errorf("the photo's preprocessed pixels differ from transformers' by %g", d)
			}
			f, err := m.Features(x, 1)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(t, f, g[tc.name+".photo.features"]); d > logitTol {
				t.Errorf("the photo's embedding differs from the reference by %g", d)
			}
		})
	}
}

// TestAdaptEncoders changes the input size of encoders with two prefix
// tokens (DeiT: the class and distillation tokens' position embeddings are
// kept) and with position embeddings resampled at every call (DINOv2:
// nothing to resize), and checks the models run and, at their own size,
// are unchanged.
func TestAdaptEncoders(t *testing.T) {
	g := encoderGolden(t)
	for _, name := range []string{"hf_deit", "hf_dinov2"} {
		p, err := LoadPretrained(filepath.Join(encodersDir, name))
		if err != nil {
			t.Fatal(err)
		}
		m := p.Model
		pos := append([]float32(nil), m.PosEmbed.Data...)
		if err := AdaptToImage(m, 24, 20, ResizeBicubic); err != nil {
			t.Fatal(err)
		}
		if m.Config.Tokens() != 30+m.Config.PrefixTokens() || len(m.PosEmbed.Data) != m.Config.PosTokens()*m.Config.Dim {
			t.Fatalf("%s: %d tokens, %d position values", name, m.Config.Tokens(), len(m.PosEmbed.Data))
		}
		if name == "hf_deit" && maxDiff(t, m.PosEmbed.Data[:2*m.Config.Dim], pos[:2*m.Config.Dim]) != 0 {
			t.Errorf("%s: the class and distillation tokens' position embeddings changed", name)
		}
		if _, err := m.Predict(make([]float32, 3*24*20), 1); err != nil {
			t.Fatal(err)
		}
		if err := AdaptToImage(m, 16, 16, ResizeBicubic); err != nil {
			t.Fatal(err)
		}
		if name == "hf_dinov2" {
			_, f, err := m.Outputs(g[name+".x"], 2)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(t, f, g[name+".features"]); d > logitTol {
				t.Errorf("%s back at 16×16: features differ from the reference by %g", name, d)
			}
		}
	}
}
