package text

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitgo/vit/checkpoint"
)

func FuzzParseConfig(f *testing.F) {
	for _, d := range []string{"clip", "clip_text", "siglip"} {
		b, err := os.ReadFile(filepath.Join("testdata", d, ConfigFile))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"model_type":"siglip","text_config":{"hidden_size":-1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseConfig returned an invalid config: %v", err)
		}
	})
}

func FuzzParseOpenCLIPConfig(f *testing.F) {
	b, err := os.ReadFile("testdata/openclip/" + checkpoint.OpenCLIPConfigFile)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"model_cfg":{"text_cfg":{"width":16,"heads":2,"mlp_ratio":1e300}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseOpenCLIPConfig(b)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseOpenCLIPConfig returned an invalid config: %v", err)
		}
	})
}

func TestOpenCLIPRefused(t *testing.T) {
	for _, c := range []struct{ config, want string }{
		{`{"model_cfg":{"text_cfg":{"hf_model_name":"roberta-base"}}}`, "hf_model_name"},
		{`{"model_cfg":{"text_cfg":{"ls_init_value":0.1}}}`, "LayerScale"},
		{`{"model_cfg":{"text_cfg":{"pool_type":"last"}}}`, `pool_type "last"`},
		{`{"model_cfg":{"text_cfg":{"no_causal_mask":true}}}`, "no_causal_mask"},
		{`{"model_cfg":{"text_cfg":{"norm_kwargs":{"eps":1e-6}}}}`, "norm_kwargs"},
	} {
		if _, err := ParseOpenCLIPConfig([]byte(c.config)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.config, err, c.want)
		}
	}
	dir := t.TempDir()
	b, _ := os.ReadFile("testdata/openclip/" + checkpoint.OpenCLIPConfigFile)
	os.WriteFile(filepath.Join(dir, checkpoint.OpenCLIPConfigFile), b, 0o644)
	if _, err := Load(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "has no open_clip_model.safetensors or open_clip_pytorch_model.bin") {
		t.Errorf("no weights: %v", err)
	}
}

// TestHostileConfigs loads the CLIP checkpoint under configs that do not
// match its weights: each is refused with a clear error before anything
// is allocated.
func TestHostileConfigs(t *testing.T) {
	w, err := os.ReadFile("testdata/clip/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ config, want string }{
		{`{"model_type":"clip","projection_dim":12,"text_config":{"num_hidden_layers":1000000000,"hidden_size":16,"num_attention_heads":2,"intermediate_size":32,"vocab_size":914}}`, "the config says 1000000000 layers, the weights hold 2"},
		{`{"model_type":"clip","projection_dim":12,"text_config":{"num_hidden_layers":2,"hidden_size":16,"num_attention_heads":2,"intermediate_size":32,"vocab_size":100000000000}}`, "has shape [914 16], the config wants [100000000000 16]"},
		{`{"model_type":"clip","projection_dim":12,"text_config":{"hidden_size":16,"num_attention_heads":3}}`, "not a multiple of the 3 heads"},
		{`{"model_type":"vit"}`, `model_type "vit" has no text tower`},
		{`{"model_type":"clip","projection_dim":13,"text_config":{"num_hidden_layers":2,"hidden_size":16,"num_attention_heads":2,"intermediate_size":32,"vocab_size":914}}`, "has 12 outputs, the config says 13"},
		{`{"model_type":"clip","text_config":{"hidden_act":"relu"}}`, `activation "relu" is not supported`},
		{`[`, "unexpected end of JSON input"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(c.config), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "model.safetensors"), w, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(context.Background(), dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config %s: error %v, want one containing %q", c.config, err, c.want)
		}
	}
	c, err := ParseConfig([]byte(`{"model_type":"clip","text_config_dict":{"hidden_size":16,"num_attention_heads":2}}`))
	if err != nil || c.Dim != 16 || c.Heads != 2 || c.Depth != 12 {
		t.Errorf("text_config_dict: %+v, %v", c, err)
	}
	if _, err := Load(context.Background(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "needs its config.json") {
		t.Errorf("empty folder: %v", err)
	}
}

// TestEmbedBadIDs: ids outside the vocabulary or too many of them are
// errors, not a panic.
func TestEmbedBadIDs(t *testing.T) {
	m, err := Load(context.Background(), "testdata/siglip")
	if err != nil {
		t.Fatal(err)
	}
	for _, ids := range [][][]int{{{m.Vocab}}, {{-1}}, {make([]int, m.Positions+1)}, {{1, 2}, {1}}, {{}}} {
		if _, err := m.Embed(context.Background(), ids); err == nil {
			t.Errorf("Embed(%v) gave no error", ids)
		}
	}
}
