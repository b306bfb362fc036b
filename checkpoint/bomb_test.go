package checkpoint

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/internal/memlimit"
	"github.com/vitgo/vit/safetensors"
)

// bombLimit is the address space a loader may use on the bombs below: far
// more than any of these small checkpoints needs, far less than the
// models their configs describe.
const bombLimit = 3 << 30

// bombConfig is a vit config describing a model of about 10²⁰ values.
const bombConfig = `{"image_height":224,"image_width":224,"patch":16,"channels":3,"dim":1000000000,"depth":100000,"heads":1,"mlp_dim":1000000000,"classes":10}`

// tinyBomb returns a safetensors file of a few hundred bytes whose metadata
// carries config (empty: no metadata config).
func tinyBomb(t *testing.T, config string) []byte {
	t.Helper()
	meta := map[string]string{"format": "vit"}
	if config != "" {
		meta[configKey] = config
	}
	var b bytes.Buffer
	if err := safetensors.Write(&b, []safetensors.Tensor{{Name: "norm.weight", Shape: []int{4}, Data: []float32{1, 1, 1, 1}}}, meta); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// bombReasons are the ways a config bomb may be refused: by this
// package's check against the weights, or before it by vit.Config's bounds
// on each size and on the machine's memory.
var bombReasons = []string{"does not match", "over the limit", "cannot fit", "do not fit", "hold 2 layers", "positions"}

// TestConfigBombs loads checkpoints whose configs describe enormous models
// next to tiny weights, in a child process whose address space is limited:
// each must fail with one clear error, before the model is allocated.
func TestConfigBombs(t *testing.T) {
	if !memlimit.Child(t, bombLimit) {
		return
	}
	write := func(t *testing.T, path string, b []byte) {
		t.Helper()
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		make  func(t *testing.T) string
		wants []string
	}{
		{"safetensors metadata", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "bomb.safetensors")
			b := tinyBomb(t, bombConfig)
			if len(b) > 600 {
				t.Fatalf("the bomb is %d bytes", len(b))
			}
			write(t, p, b)
			return p
		}, []string{"bomb.safetensors"}},
		{"vit config.json", func(t *testing.T) string {
			dir := t.TempDir()
			write(t, filepath.Join(dir, WeightsFile), tinyBomb(t, ""))
			write(t, filepath.Join(dir, ConfigFile), []byte(bombConfig))
			return dir
		}, []string{"model.safetensors", "1000000000"}},
		{"performer features", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "features.safetensors")
			write(t, p, tinyBomb(t, `{"image_height":8,"image_width":8,"patch":4,"channels":1,"dim":8,"depth":1,"heads":2,"mlp_dim":16,"classes":3,"attention":"performer","features":4611686018427387904}`))
			return p
		}, []string{"features.safetensors", "features"}},
		{"stem strides", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "stem.safetensors")
			write(t, p, tinyBomb(t, `{"image_height":8,"image_width":8,"patch":4,"channels":1,"dim":8,"depth":1,"heads":2,"mlp_dim":16,"classes":3,"stem":[{"channels":4,"kernel":3,"stride":4294967296},{"channels":4,"kernel":3,"stride":4294967296}]}`))
			return p
		}, []string{"stem strides", "do not fit"}},
		{"hf config.json", func(t *testing.T) string {
			dir := copyTestdata(t, "hf")
			editConfig(t, filepath.Join(dir, ConfigFile), func(c map[string]any) {
				c["hidden_size"], c["num_hidden_layers"], c["intermediate_size"], c["num_attention_heads"] = 1e9, 100000, 1e9, 1
			})
			return dir
		}, []string{"config.json", "1000000000"}},
		{"hf depth only", func(t *testing.T) string {
			dir := copyTestdata(t, "hf")
			editConfig(t, filepath.Join(dir, ConfigFile), func(c map[string]any) { c["num_hidden_layers"] = 20 })
			return dir
		}, []string{"num_hidden_layers 20", "hold 2 layers"}},
		{"hf image size", func(t *testing.T) string {
			dir := copyTestdata(t, "hf")
			editConfig(t, filepath.Join(dir, ConfigFile), func(c map[string]any) { c["image_size"] = 400000 })
			return dir
		}, []string{"config.json"}},
		{"timm input size", func(t *testing.T) string {
			dir := copyTestdata(t, "timm")
			editConfig(t, filepath.Join(dir, ConfigFile), func(c map[string]any) {
				c["pretrained_cfg"].(map[string]any)["input_size"] = []int{3, 1000000, 1000000}
			})
			return dir
		}, []string{"timm"}},
		{"timm input size within budget", func(t *testing.T) string {
			dir := copyTestdata(t, "timm")
			editConfig(t, filepath.Join(dir, ConfigFile), func(c map[string]any) {
				c["pretrained_cfg"].(map[string]any)["input_size"] = []int{3, 64, 64}
			})
			return dir
		}, []string{`"pos_embed" has 17 positions`, "64×64", "does not match"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadPretrained(tc.make(t))
			if err == nil {
				t.Fatal("loaded")
			}
			t.Log(err)
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !slices.ContainsFunc(bombReasons, func(r string) bool { return strings.Contains(err.Error(), r) }) {
				t.Errorf("error %q gives none of the reasons %q", err, bombReasons)
			}
			if strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

// TestModelValues checks the count against the allocated models of a few
// configurations.
func TestModelValues(t *testing.T) {
	for _, dir := range []string{"hf", "timm", "jax.npz", "big_vision_gap.npz"} {
		p, err := LoadPretrained(filepath.Join("testdata", dir))
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, q := range p.Model.Params() {
			n += int64(len(q.Data))
		}
		got, ok := modelValues(p.Model.Config)
		if !ok || got < n || got > n+int64(3*p.Model.Config.Dim*p.Model.Config.Depth) {
			t.Errorf("%s: modelValues = %d, %v; the model holds %d", dir, got, ok, n)
		}
	}
}

// TestEndlessConfig points config.json at /dev/zero: the read stops at the
// config limit instead of running out of memory.
func TestEndlessConfig(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	if !memlimit.Child(t, 3<<30) {
		return
	}
	dir := copyTestdata(t, "hf")
	os.Remove(filepath.Join(dir, ConfigFile))
	if err := os.Symlink("/dev/zero", filepath.Join(dir, ConfigFile)); err != nil {
		t.Skip(err)
	}
	_, err := LoadPretrained(dir)
	if err == nil || !strings.Contains(err.Error(), "not a config file") {
		t.Fatalf("got %v", err)
	}
}

// TestFitsWeights checks the comparison of a config with the weights on
// its own, with configs that vit.Config's own bounds accept.
func TestFitsWeights(t *testing.T) {
	b := vit.Config{ImageHeight: 224, ImageWidth: 224, Patch: 16, Channels: 3, Dim: 768, Depth: 12, Heads: 12, MLPDim: 3072, Classes: 1000}
	n, ok := modelValues(b)
	if !ok || n < 86_000_000 || n > 87_000_000 {
		t.Fatalf("ViT-B/16 counts %d values, %v", n, ok)
	}
	if err := fitsWeights(b, n, "B/16"); err != nil {
		t.Errorf("its own weights: %v", err)
	}
	if err := fitsWeights(b, n/2, "B/16"); err != nil {
		t.Errorf("half its weights (a zero head, say): %v", err)
	}
	err := fitsWeights(b, 4, "B/16")
	if err == nil || !strings.Contains(err.Error(), "B/16 describes a model of 86") || !strings.Contains(err.Error(), "hold only 4") {
		t.Errorf("4 values: %v", err)
	}
	deep := b
	deep.Depth = 100
	if err := fitsWeights(deep, n, "deep"); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("depth 100 over B/16's weights: %v", err)
	}
}
