package checkpoint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/safetensors"
)

func tiny(t *testing.T) *vit.Model {
	c := vit.Config{ImageHeight: 8, ImageWidth: 8, Channels: 1, Patch: 4, Dim: 8, Depth: 2, Heads: 2, MLPDim: 16, Classes: 3, Labels: []string{"a", "b", "c"}}
	m, err := vit.New(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSaveLoadRoundTrip(t *testing.T) {
	m := tiny(t)
	dir := filepath.Join(t.TempDir(), "model")
	if err := Save(dir, m); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{dir, filepath.Join(dir, WeightsFile)} {
		got, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if got.Config.Labels[2] != "c" {
			t.Fatalf("labels lost: %v", got.Config.Labels)
		}
		a, b := m.Params(), got.Params()
		for i := range a {
			for j := range a[i].Data {
				if a[i].Data[j] != b[i].Data[j] {
					t.Fatalf("%s[%d] = %v after loading, want %v", a[i].Name, j, b[i].Data[j], a[i].Data[j])
				}
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	m := tiny(t)
	// A weights file whose tensor has the wrong shape.
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		shape := p.Shape
		if p.Name == "head.weight" {
			shape = []int{p.Shape[1], p.Shape[0]}
		}
		ts = append(ts, safetensors.Tensor{Name: p.Name, Shape: shape, Data: p.Data})
	}
	bad := filepath.Join(dir, "bad")
	os.MkdirAll(bad, 0o755)
	Save(bad, m)
	if err := safetensors.WriteFile(filepath.Join(bad, WeightsFile), ts, nil); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.safetensors")
	os.WriteFile(junk, []byte("not a checkpoint at all"), 0o644)
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "absent"), "no such file"},
		{dir, "no model.safetensors"},
		{bad, `tensor "head.weight" has shape [8 3], the model expects [3 8]`},
		{junk, "loading model"},
	} {
		_, err := Load(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s) error = %v, want it to contain %q", tc.path, err, tc.want)
		}
	}
}

func TestSaveKeepsOldFileOnFailure(t *testing.T) {
	dir := t.TempDir()
	m := tiny(t)
	if err := Save(dir, m); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, WeightsFile))
	// Make the folder read-only so the temporary file cannot be created.
	if os.Getuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	os.Chmod(dir, 0o555)
	defer os.Chmod(dir, 0o755)
	if err := Save(dir, m); err == nil {
		t.Fatal("Save into a read-only folder succeeded")
	}
	after, _ := os.ReadFile(filepath.Join(dir, WeightsFile))
	if string(before) != string(after) {
		t.Fatal("failed Save changed the old checkpoint")
	}
}
