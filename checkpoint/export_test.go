package checkpoint

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/safetensors"
)

// TestSaveHFRoundTrip loads each format, writes a Hugging Face folder and
// reads it back through the Hugging Face loader: logits must be identical.
func TestSaveHFRoundTrip(t *testing.T) {
	g := golden(t)
	for _, tc := range []struct{ from, input string }{
		{"timm", "x16"}, {"jax.npz", "x16"}, {"hf_rect", "x16x12"}, {"timm_rect", "x16x12"},
	} {
		m, err := Load(filepath.Join("testdata", tc.from))
		if err != nil {
			t.Fatal(err)
		}
		want, err := m.Predict(g[tc.input], 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, save := range []struct {
			format string
			fn     func(string, *vit.Model) error
		}{{FormatHF, SaveHF}, {FormatTimm, SaveTimm}, {FormatVit, func(dir string, m *vit.Model) error { return Save(dir, m) }}} {
			dir := filepath.Join(t.TempDir(), save.format)
			if err := save.fn(dir, m); err != nil {
				t.Fatal(err)
			}
			p, err := LoadPretrained(dir)
			if err != nil {
				t.Fatalf("%s → %s: %v", tc.from, save.format, err)
			}
			if p.Format != save.format {
				t.Errorf("%s → %s detected as %s", tc.from, save.format, p.Format)
			}
			got, err := p.Predict(g[tc.input], 2)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(t, got, want); d != 0 && !(save.format == FormatTimm && m.Config.Eps() != 1e-6 && d < 1e-5) {
				t.Errorf("%s → %s: logits changed by %g", tc.from, save.format, d)
			}
			c0, c1 := m.Config, p.Model.Config
			m0, s0 := norm(c0.Mean, c0.Std)
			m1, s1 := norm(c1.Mean, c1.Std)
			if c0.ImageHeight != c1.ImageHeight || c0.ImageWidth != c1.ImageWidth || !slices.Equal(c0.Labels, c1.Labels) ||
				!slices.Equal(m0, m1) || !slices.Equal(s0, s1) || c0.Resample != c1.Resample && c0.Resample != "" {
				t.Errorf("%s → %s: config %+v became %+v", tc.from, save.format, c0, c1)
			}
		}
	}
}

func TestSaveHFFiles(t *testing.T) {
	m, err := Load(filepath.Join("testdata", "hf"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := SaveHF(dir, m); err != nil {
		t.Fatal(err)
	}
	// The tensor names and shapes are exactly those of the reference folder
	// that gen.py's ViTForImageClassification module saved.
	ref, err := safetensors.Open(filepath.Join("testdata", "hf", WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	out, err := safetensors.Open(filepath.Join(dir, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if !slices.Equal(ref.Names(), out.Names()) {
		t.Fatalf("names %v, reference %v", out.Names(), ref.Names())
	}
	for _, n := range ref.Names() {
		_, a, _ := ref.Info(n)
		_, b, _ := out.Info(n)
		if !slices.Equal(a, b) {
			t.Errorf("%s: shape %v, reference %v", n, b, a)
		}
	}
	if out.Metadata()["format"] != "pt" {
		t.Error(`metadata lacks format "pt", which transformers requires`)
	}
	var cfg map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"model_type": "vit", "hidden_size": 16.0, "num_hidden_layers": 2.0, "num_attention_heads": 4.0,
		"intermediate_size": 32.0, "image_size": 16.0, "patch_size": 4.0, "num_channels": 3.0, "qkv_bias": true,
		"layer_norm_eps": 1e-12, "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "torch_dtype": "float32"} {
		if cfg[k] != want {
			t.Errorf("config.json %s = %v, want %v", k, cfg[k], want)
		}
	}
	if a, _ := cfg["architectures"].([]any); len(a) != 1 || a[0] != "ViTForImageClassification" {
		t.Errorf("architectures %v", cfg["architectures"])
	}
	if l, _ := cfg["id2label"].(map[string]any); l["2"] != "great white shark" {
		t.Errorf("id2label %v", cfg["id2label"])
	}
	var pre map[string]any
	b, _ = os.ReadFile(filepath.Join(dir, hfPreprocessorFile))
	if err := json.Unmarshal(b, &pre); err != nil {
		t.Fatal(err)
	}
	if pre["image_processor_type"] != "ViTImageProcessor" || pre["resample"] != 2.0 || pre["do_normalize"] != true {
		t.Errorf("preprocessor_config.json %v", pre)
	}

	// A model pooling the average of its tokens has no Hugging Face form.
	gap, err := Load(filepath.Join("testdata", "big_vision_gap.npz"))
	if err != nil {
		t.Fatal(err)
	}
	if err := SaveHF(t.TempDir(), gap); err == nil || !strings.Contains(err.Error(), "class token") {
		t.Errorf("SaveHF of a gap model: %v", err)
	}
	if err := SaveTimm(filepath.Join(t.TempDir(), "gap"), gap); err != nil {
		t.Error(err)
	}

	// Nor has a hybrid, in either library; nothing is written.
	for name, save := range map[string]func(string, *vit.Model) error{"SaveHF": SaveHF, "SaveTimm": SaveTimm} {
		dir := filepath.Join(t.TempDir(), "hybrid")
		if err := save(dir, hybrid(t)); err == nil || !strings.Contains(err.Error(), "stem") {
			t.Errorf("%s of a hybrid: %v", name, err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s of a hybrid left %s behind", name, dir)
		}
	}
}

// norm spells out "no normalisation" as mean 0, std 1.
func norm(mean, std []float32) ([]float32, []float32) {
	if mean == nil {
		return []float32{0, 0, 0}, []float32{1, 1, 1}
	}
	return mean, std
}
