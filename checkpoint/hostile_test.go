package checkpoint

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitgo/vit/safetensors"
)

// copyTestdata copies testdata/name (a file or a flat folder) into a
// temporary folder and returns the copy's path.
func copyTestdata(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("testdata", name)
	dst := filepath.Join(t.TempDir(), name)
	st, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	files := []string{""}
	if st.IsDir() {
		os.MkdirAll(dst, 0o755)
		es, _ := os.ReadDir(src)
		files = files[:0]
		for _, e := range es {
			files = append(files, e.Name())
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// readTensors reads every tensor of a safetensors file.
func readTensors(t *testing.T, path string) []safetensors.Tensor {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ts []safetensors.Tensor
	for _, n := range f.Names() {
		d, sh, err := f.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, safetensors.Tensor{Name: n, Shape: sh, Data: d})
	}
	return ts
}

// editConfig rewrites a JSON config with edit.
func editConfig(t *testing.T, path string, edit func(map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	edit(cfg)
	b, _ = json.Marshal(cfg)
	os.WriteFile(path, b, 0o644)
}

func TestHostileCheckpoints(t *testing.T) {
	type hostile struct {
		name  string
		make  func(t *testing.T) string
		wants []string
	}
	rewrite := func(model string, edit func([]safetensors.Tensor) []safetensors.Tensor) func(*testing.T) string {
		return func(t *testing.T) string {
			dir := copyTestdata(t, model)
			w := filepath.Join(dir, WeightsFile)
			if err := safetensors.WriteFile(w, edit(readTensors(t, w)), map[string]string{"format": "pt"}); err != nil {
				t.Fatal(err)
			}
			return dir
		}
	}
	for _, tc := range []hostile{
		{"truncated safetensors", func(t *testing.T) string {
			dir := copyTestdata(t, "hf")
			w := filepath.Join(dir, WeightsFile)
			b, _ := os.ReadFile(w)
			os.WriteFile(w, b[:len(b)/2], 0o644)
			return dir
		}, []string{"model.safetensors"}},
		{"truncated npz", func(t *testing.T) string {
			p := copyTestdata(t, "jax.npz")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-100], 0o644)
			return p
		}, []string{"jax.npz"}},
		{"transposed tensor", rewrite("hf", func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i := range ts {
				if ts[i].Name == "vit.encoder.layer.1.intermediate.dense.weight" {
					ts[i].Shape = []int{16, 32}
				}
			}
			return ts
		}), []string{`"vit.encoder.layer.1.intermediate.dense.weight"`, "[16 32]", "[32 16]"}},
		{"unknown tensor", rewrite("timm", func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.Tensor{Name: "blocks.0.attn.q_norm.weight", Shape: []int{16}, Data: make([]float32, 16)})
		}), []string{"unexpected tensor", `"blocks.0.attn.q_norm.weight"`}},
		{"fc_norm", rewrite("timm", func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.Tensor{Name: "fc_norm.weight", Shape: []int{16}, Data: make([]float32, 16)})
		}), []string{"fc_norm"}},
		{"missing tensor", rewrite("hf", func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i := range ts {
				if ts[i].Name == "vit.layernorm.bias" {
					return append(ts[:i], ts[i+1:]...)
				}
			}
			return ts
		}), []string{`"vit.layernorm.bias" is missing`}},
		{"config image size lies", func(t *testing.T) string {
			dir := copyTestdata(t, "hf")
			editConfig(t, filepath.Join(dir, ConfigFile), func(c map[string]any) { c["image_size"] = 32 })
			return dir
		}, []string{`"vit.embeddings.position_embeddings"`, "[1 17 16]", "[65 16]"}},
		{"config heads", func(t *testing.T) string {
			dir := copyTestdata(t, "hf")
			editConfig(t, filepath.Join(dir, ConfigFile), func(c map[string]any) { c["num_attention_heads"] = 3 })
			return dir
		}, []string{"not divisible by heads 3"}},
		{"approximate gelu", func(t *testing.T) string {
			dir := copyTestdata(t, "hf")
			editConfig(t, filepath.Join(dir, ConfigFile), func(c map[string]any) { c["hidden_act"] = "gelu_new" })
			return dir
		}, []string{`hidden_act "gelu_new"`}},
		{"labels disagree", func(t *testing.T) string {
			dir := copyTestdata(t, "hf")
			editConfig(t, filepath.Join(dir, ConfigFile), func(c map[string]any) { c["id2label"] = map[string]string{"0": "a", "1": "b"} })
			return dir
		}, []string{"2 labels", "5 outputs"}},
		{"other model type", func(t *testing.T) string {
			dir := copyTestdata(t, "hf")
			editConfig(t, filepath.Join(dir, ConfigFile), func(c map[string]any) { c["model_type"] = "swin" })
			return dir
		}, []string{`model_type "swin"`}},
		{"pytorch_model.bin that runs code", func(t *testing.T) string {
			dir := copyTestdata(t, "hf_bin")
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			w, _ := zw.Create("archive/data.pkl")
			w.Write([]byte("\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsq\x00\x85R."))
			zw.Close()
			os.WriteFile(filepath.Join(dir, torchWeightsFile), buf.Bytes(), 0o644)
			return dir
		}, []string{"pytorch_model.bin", "os.system", "refusing"}},
		{"truncated pytorch_model.bin", func(t *testing.T) string {
			dir := copyTestdata(t, "hf_bin")
			w := filepath.Join(dir, torchWeightsFile)
			b, _ := os.ReadFile(w)
			os.WriteFile(w, b[:len(b)-200], 0o644)
			return dir
		}, []string{"pytorch_model.bin"}},
		{"no weights", func(t *testing.T) string {
			dir := copyTestdata(t, "hf_bin")
			os.Remove(filepath.Join(dir, torchWeightsFile))
			return dir
		}, []string{"no model.safetensors", "pytorch_model.bin"}},
		{"shard missing", func(t *testing.T) string {
			dir := copyTestdata(t, "hf")
			os.Remove(filepath.Join(dir, WeightsFile))
			os.WriteFile(filepath.Join(dir, hfIndexFile), []byte(`{"weight_map":{"vit.layernorm.bias":"model-00001-of-00002.safetensors"}}`), 0o644)
			return dir
		}, []string{"model-00001-of-00002.safetensors"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadPretrained(tc.make(t))
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestHFSharded(t *testing.T) {
	g := golden(t)
	dir := copyTestdata(t, "hf")
	w := filepath.Join(dir, WeightsFile)
	ts := readTensors(t, w)
	os.Remove(w)
	index := map[string]map[string]string{"weight_map": {}}
	for s, part := range [][]safetensors.Tensor{ts[:len(ts)/2], ts[len(ts)/2:]} {
		name := []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[s]
		if err := safetensors.WriteFile(filepath.Join(dir, name), part, map[string]string{"format": "pt"}); err != nil {
			t.Fatal(err)
		}
		for _, x := range part {
			index["weight_map"][x.Name] = name
		}
	}
	b, _ := json.Marshal(index)
	os.WriteFile(filepath.Join(dir, hfIndexFile), b, 0o644)
	p, err := LoadPretrained(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Predict(g["x16"], 2)
	if err != nil {
		t.Fatal(err)
	}
	checkLogits(t, "sharded", got, g["a/hf"])
}
