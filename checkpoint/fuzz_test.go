package checkpoint

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/safetensors"
)

// fuzzCopy copies testdata/name into a temporary folder of f.
func fuzzCopy(f *testing.F, name string) string {
	f.Helper()
	dst := filepath.Join(f.TempDir(), name)
	os.MkdirAll(dst, 0o755)
	es, err := os.ReadDir(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join("testdata", name, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	return dst
}

func readFile(f *testing.F, path string) []byte {
	f.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// checkLoaded is the invariant of every config fuzz target: a load fails
// with an error, or gives a valid model no larger than its weights allow.
func checkLoaded(t *testing.T, p *Pretrained, err error, have int64) {
	t.Helper()
	if err != nil {
		return
	}
	if p == nil || p.Model == nil {
		t.Fatal("no model and no error")
	}
	if err := p.Model.Config.Validate(); err != nil {
		t.Fatalf("loaded an invalid config: %v", err)
	}
	var n int64
	for _, q := range p.Model.Params() {
		n += int64(len(q.Data))
	}
	if n > 2*have+fitSlack {
		t.Fatalf("a model of %d values from weights of %d", n, have)
	}
}

// weightValues counts the values of the safetensors file at path.
func weightValues(t testing.TB, path string) int64 {
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return storedValues(f.Names(), func(n string) []int { _, sh, _ := f.Info(n); return sh })
}

// FuzzHFConfig loads the small Hugging Face model with arbitrary
// config.json and preprocessor_config.json.
func FuzzHFConfig(f *testing.F) {
	dir := fuzzCopy(f, "hf")
	cfg, pre := readFile(f, filepath.Join(dir, ConfigFile)), readFile(f, filepath.Join(dir, hfPreprocessorFile))
	have := weightValues(f, filepath.Join(dir, WeightsFile))
	f.Add(cfg, pre)
	f.Add([]byte(`{"model_type":"vit","hidden_size":1000000000,"num_hidden_layers":100000,"image_size":[16,16],"patch_size":4,"num_attention_heads":1}`), pre)
	f.Add([]byte(`{"model_type":"vit","hidden_size":16,"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":32,"image_size":16,"patch_size":4,"id2label":{"0":"a","1":"b","2":"c","3":"d","4":"e"}}`),
		[]byte(`{"image_mean":[0.5],"image_std":[0.5],"resample":3}`))
	f.Add([]byte(`{"hidden_size":16,"image_size":[16,20],"patch_size":[4,4]}`), []byte(`{"do_normalize":false}`))
	f.Fuzz(func(t *testing.T, cfg, pre []byte) {
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), cfg, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, hfPreprocessorFile), pre, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := LoadPretrained(dir)
		checkLoaded(t, p, err, have)
	})
}

// FuzzTimmConfig loads the small timm model with an arbitrary config.json.
func FuzzTimmConfig(f *testing.F) {
	dir := fuzzCopy(f, "timm")
	have := weightValues(f, filepath.Join(dir, WeightsFile))
	f.Add(readFile(f, filepath.Join(dir, ConfigFile)))
	f.Add([]byte(`{"architecture":"vit_base_patch4_16","pretrained_cfg":{"input_size":[3,1000000,1000000]}}`))
	f.Add([]byte(`{"architecture":"vit_tiny_patch4_16","num_classes":5,"model_args":{"num_heads":4,"img_size":[16,16]},"label_names":["a","b","c","d","e"],"pretrained_cfg":{"mean":[0.5],"std":[0.5],"crop_pct":0.9,"interpolation":"bicubic"}}`))
	f.Add([]byte(`{"architecture":"x","global_pool":"avg","model_args":{"global_pool":"token","patch_size":4}}`))
	f.Fuzz(func(t *testing.T, cfg []byte) {
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), cfg, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := LoadPretrained(dir)
		checkLoaded(t, p, err, have)
	})
}

// FuzzVitConfig loads a model saved by Save whose config (in the weights'
// metadata, or in config.json when the metadata has none) is arbitrary.
func FuzzVitConfig(f *testing.F) {
	c := vit.Config{ImageHeight: 8, ImageWidth: 8, Patch: 4, Channels: 1, Dim: 8, Depth: 1, Heads: 2, MLPDim: 16, Classes: 3}
	m, err := vit.New(c, 1)
	if err != nil {
		f.Fatal(err)
	}
	dir := filepath.Join(f.TempDir(), "m")
	if err := Save(dir, m); err != nil {
		f.Fatal(err)
	}
	var tensors []safetensors.Tensor
	for _, p := range m.Params() {
		tensors = append(tensors, safetensors.Tensor{Name: p.Name, Shape: p.Shape, Data: p.Data})
	}
	have := weightValues(f, filepath.Join(dir, WeightsFile))
	good := readFile(f, filepath.Join(dir, ConfigFile))
	f.Add(good, false)
	f.Add(good, true)
	f.Add([]byte(bombConfig), false)
	f.Add([]byte(`{"image_height":8,"image_width":8,"patch":4,"channels":1,"dim":8,"depth":1,"heads":2,"mlp_dim":16,"classes":3,"stem":[{"channels":4,"kernel":3,"stride":4611686018427387904}]}`), true)
	f.Add([]byte(`{"image_height":8,"image_width":8,"patch":4,"channels":1,"dim":8,"depth":1,"heads":2,"mlp_dim":16,"classes":3,"attention":"performer","features":1000000000}`), false)
	f.Fuzz(func(t *testing.T, cfg []byte, inFile bool) {
		meta := map[string]string{"format": "vit", configKey: string(cfg)}
		if inFile {
			delete(meta, configKey)
		}
		if err := safetensors.WriteFile(filepath.Join(dir, WeightsFile), tensors, meta); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), cfg, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := LoadPretrained(dir)
		checkLoaded(t, p, err, have)
	})
}

// hfEncoderDirs are the generated Hugging Face encoder folders
// FuzzHFEncoderConfig loads.
var hfEncoderDirs = []string{"hf_clip", "hf_clip_vision", "hf_siglip", "hf_dinov2", "hf_dinov2_reg", "hf_deit"}

// FuzzHFEncoderConfig loads one of the small Hugging Face CLIP, SigLIP,
// DINOv2 and DeiT models (kind picks it) with arbitrary config.json and
// preprocessor_config.json.
func FuzzHFEncoderConfig(f *testing.F) {
	var dirs []string
	var have []int64
	for i, name := range hfEncoderDirs {
		dst := filepath.Join(f.TempDir(), name)
		os.MkdirAll(dst, 0o755)
		for _, file := range []string{ConfigFile, hfPreprocessorFile, WeightsFile} {
			b := readFile(f, filepath.Join(encodersDir, name, file))
			if err := os.WriteFile(filepath.Join(dst, file), b, 0o644); err != nil {
				f.Fatal(err)
			}
			switch file {
			case ConfigFile:
				f.Add(uint8(i), b, readFile(f, filepath.Join(encodersDir, name, hfPreprocessorFile)))
			}
		}
		dirs = append(dirs, dst)
		have = append(have, weightValues(f, filepath.Join(dst, WeightsFile)))
	}
	f.Add(uint8(3), []byte(`{"model_type":"dinov2","hidden_size":16,"num_hidden_layers":2,"num_attention_heads":2,"image_size":4000000,"patch_size":4}`),
		[]byte(`{"size":{"shortest_edge":18},"crop_size":{"height":1048576,"width":1048576},"image_mean":[0.5],"image_std":[0.5]}`))
	f.Add(uint8(0), []byte(`{"model_type":"clip","vision_config":{"hidden_size":16,"num_hidden_layers":2,"num_attention_heads":2,"intermediate_size":32,"image_size":16,"patch_size":4,"hidden_act":"relu"}}`), []byte(`{"size":16,"crop_size":16}`))
	f.Add(uint8(5), []byte(`{"model_type":"deit","hidden_size":16,"num_hidden_layers":2,"num_attention_heads":2,"intermediate_size":32,"image_size":16,"patch_size":4,"id2label":{"0":"a"}}`), []byte(`{"size":{"height":20,"width":30},"crop_size":16,"do_center_crop":true,"image_mean":[0.5],"image_std":[0.5]}`))
	f.Fuzz(func(t *testing.T, kind uint8, cfg, pre []byte) {
		i := int(kind) % len(dirs)
		if err := os.WriteFile(filepath.Join(dirs[i], ConfigFile), cfg, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dirs[i], hfPreprocessorFile), pre, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := LoadPretrained(dirs[i])
		checkLoaded(t, p, err, have[i])
	})
}

// FuzzOpenCLIPConfig loads the small OpenCLIP model with an arbitrary
// open_clip_config.json.
func FuzzOpenCLIPConfig(f *testing.F) {
	dst := filepath.Join(f.TempDir(), "openclip")
	os.MkdirAll(dst, 0o755)
	for _, file := range []string{OpenCLIPConfigFile, OpenCLIPWeights} {
		if err := os.WriteFile(filepath.Join(dst, file), readFile(f, filepath.Join(encodersDir, "openclip", file)), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	have := weightValues(f, filepath.Join(dst, OpenCLIPWeights))
	f.Add(readFile(f, filepath.Join(dst, OpenCLIPConfigFile)))
	f.Add([]byte(`{"model_cfg":{"vision_cfg":{"image_size":4000000,"layers":100000,"width":16,"head_width":8,"patch_size":4,"mlp_ratio":100000}}}`))
	f.Add([]byte(`{"model_cfg":{"vision_cfg":{"width":16,"head_width":0}},"preprocess_cfg":{"mean":[0.5],"std":[0],"resize_mode":"squash"}}`))
	f.Fuzz(func(t *testing.T, cfg []byte) {
		if err := os.WriteFile(filepath.Join(dst, OpenCLIPConfigFile), cfg, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := LoadPretrained(dst)
		checkLoaded(t, p, err, have)
	})
}
