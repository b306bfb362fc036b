package checkpoint

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/internal/fsfault"
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

// hybrid is tiny with a convolution stem (the paper's hybrid).
func hybrid(t *testing.T) *vit.Model {
	c := tiny(t).Config
	c.Stem = []vit.StemConv{{Channels: 3, Kernel: 3, Stride: 2}, {Channels: 5, Kernel: 1, Stride: 1}}
	c.Patch = 2
	m, err := vit.New(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSaveLoadRoundTrip(t *testing.T) {
	t.Run("plain", func(t *testing.T) { testSaveLoad(t, tiny(t)) })
	t.Run("hybrid", func(t *testing.T) { testSaveLoad(t, hybrid(t)) })
}

func testSaveLoad(t *testing.T, m *vit.Model) {
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
		if len(got.Stem) != len(m.Stem) || vit.FormatStem(got.Config.Stem) != vit.FormatStem(m.Config.Stem) {
			t.Fatalf("stem %v after loading, want %v", got.Config.Stem, m.Config.Stem)
		}
		a, b := m.Params(), got.Params()
		if len(a) != len(b) {
			t.Fatalf("%d tensors after loading, want %d", len(b), len(a))
		}
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
	// Training run folders whose state.json is damaged or names a missing
	// checkpoint: said so, not "no model.safetensors".
	runFolder := func(name, state string) string {
		d := filepath.Join(dir, name)
		Save(filepath.Join(d, "ckpt-0000001"), m)
		os.WriteFile(filepath.Join(d, RunStateFile), []byte(state), 0o644)
		return d
	}
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "absent"), "no such file"},
		{dir, "no model.safetensors"},
		{bad, `tensor "head.weight" has shape [8 3], the model expects [3 8]`},
		{junk, "loading model"},
		{runFolder("corrupt", `{"checkpoint": `), "state.json is corrupt"},
		{runFolder("nameless", `{}`), "state.json names no checkpoint"},
		{runFolder("outside", `{"checkpoint": "../bad"}`), "state.json names no checkpoint"},
		{runFolder("missing", `{"checkpoint": "ckpt-0000009"}`), "ckpt-0000009, which has no model.safetensors"},
	} {
		_, err := Load(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s) error = %v, want it to contain %q", tc.path, err, tc.want)
		}
	}
	if _, err := Load(runFolder("good", `{"checkpoint": "ckpt-0000001"}`)); err != nil {
		t.Errorf("Load of a run folder: %v", err)
	}
}

// TestSaveKeepsOldFileOnFailure saves over a checkpoint while file writes
// fail (a file-size limit, which root obeys as it obeys a full disk) and
// checks that the old checkpoint is left whole, that the error says where,
// and that a failed save into a new folder leaves no folder behind.
func TestSaveKeepsOldFileOnFailure(t *testing.T) {
	if os.Getenv("VIT_TEST_CHILD") != t.Name() {
		// The limit holds for the whole process: run the test alone in a
		// child process.
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "VIT_TEST_CHILD="+t.Name())
		out, err := cmd.CombinedOutput()
		if err == nil && strings.Contains(string(out), "--- SKIP: "+t.Name()) {
			t.Skipf("skipped in the child process:\n%s", out)
		}
		if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
			t.Fatalf("the test in a child process: %v\n%s", err, out)
		}
		return
	}
	dir := t.TempDir()
	m := tiny(t)
	if err := Save(dir, m); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, WeightsFile))
	for i := range m.Params()[0].Data {
		m.Params()[0].Data[i]++
	}
	lift := fsfault.LimitFileSize(t, 512)
	err := Save(dir, m)
	fresh := filepath.Join(t.TempDir(), "new")
	errNew := Save(fresh, m)
	lift()
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Save with writes failing: error %v, want one naming %s", err, dir)
	}
	after, _ := os.ReadFile(filepath.Join(dir, WeightsFile))
	if string(before) != string(after) {
		t.Fatal("failed Save changed the old checkpoint")
	}
	if _, err := Load(dir); err != nil {
		t.Fatalf("the old checkpoint does not load after a failed Save: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("failed Save left %d entries in the folder, want config.json and %s", len(ents), WeightsFile)
	}
	if errNew == nil {
		t.Fatal("Save into a new folder with writes failing succeeded")
	}
	if _, err := os.Stat(fresh); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("failed Save into a new folder left it behind: %v", err)
	}
}

// TestLoadMapsWeights checks that Load hands out the file's float32 tensors
// without copying them (on Unix), that writing to them never changes the
// file, and that the mapping outlives the File for as long as the model.
func TestLoadMapsWeights(t *testing.T) {
	m := tiny(t)
	dir := filepath.Join(t.TempDir(), "model")
	if err := Save(dir, m); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	aliased := 0
	for _, p := range got.Params() {
		if p.Aliased {
			aliased++
		}
	}
	if runtime.GOOS != "windows" && runtime.GOOS != "plan9" && aliased == 0 {
		t.Fatalf("no tensor maps the file")
	}
	t.Logf("%d of %d tensors map the file", aliased, len(got.Params()))
	// Inference still works after the loader returned and the GC ran.
	runtime.GC()
	x := make([]float32, 64)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	want, _ := m.Predict(x, 1)
	out, err := got.Predict(x, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if out[i] != want[i] {
			t.Fatalf("logit %d = %v from the mapped model, want %v", i, out[i], want[i])
		}
	}
	// Writes stay private: the file keeps the saved weights.
	w := got.Blocks[0].FC1.W
	w.Data[0] += 1000
	again, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v := again.Blocks[0].FC1.W.Data[0]; v != m.Blocks[0].FC1.W.Data[0] {
		t.Fatalf("the file changed under a write to a mapped tensor: %v, want %v", v, m.Blocks[0].FC1.W.Data[0])
	}
	if w.Data[0] != m.Blocks[0].FC1.W.Data[0]+1000 {
		t.Fatalf("the write was lost")
	}
}

// TestAdaptHybridToImage moves a hybrid from 8×8 to 16×12 images: its
// token grid follows the stem's stride (2) times the patch (2).
func TestAdaptHybridToImage(t *testing.T) {
	m := hybrid(t)
	if _, err := m.Predict(make([]float32, 8*8), 1); err != nil {
		t.Fatal(err)
	}
	if err := AdaptToImage(m, 16, 12, "bicubic"); err != nil {
		t.Fatal(err)
	}
	if m.Config.GridH() != 4 || m.Config.GridW() != 3 || len(m.PosEmbed.Data) != (4*3+1)*m.Config.Dim {
		t.Fatalf("grid %d×%d, %d position values", m.Config.GridH(), m.Config.GridW(), len(m.PosEmbed.Data))
	}
	if _, err := m.Predict(make([]float32, 2*16*12), 2); err != nil {
		t.Fatal(err)
	}
	if err := AdaptToImage(m, 18, 12, "bicubic"); err == nil {
		t.Error("18×12 images accepted: 18 is not a multiple of stride 2 × patch 2")
	}
}
