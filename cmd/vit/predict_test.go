package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/batchrun"
	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/safetensors"
)

// saveTiny writes a small RGB model with labels into a temporary folder.
func saveTiny(t *testing.T) string {
	t.Helper()
	c := vit.Config{ImageHeight: 32, ImageWidth: 32, Channels: 3, Patch: 8, Dim: 16, Depth: 1, Heads: 2, MLPDim: 32, Classes: 3,
		Labels: []string{"cat", "dog", "fish"}, Mean: []float32{0.5}, Std: []float32{0.5}}
	m, err := vit.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Head.W.Data {
		m.Head.W.Data[i] = float32(i%5) * 0.1
	}
	dir := filepath.Join(t.TempDir(), "model")
	if err := checkpoint.Save(dir, m); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestPredict(t *testing.T) {
	model := saveTiny(t)
	img := "../../imageio/testdata/in/chelsea.png"
	var out, errOut strings.Builder
	code := run([]string{"predict", "--model", model, "--json", "--logits", "--top", "2", img, "missing.png"}, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d with a missing image, want 1 (stderr %s)", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d JSON lines, want 2:\n%s", len(lines), out.String())
	}
	var p batchrun.Prediction
	if err := json.Unmarshal([]byte(lines[0]), &p); err != nil {
		t.Fatal(err)
	}
	if p.File != img || len(p.Top) != 2 || len(p.Logits) != 3 || p.Top[0].Prob < p.Top[1].Prob {
		t.Fatalf("bad prediction %+v", p)
	}
	if !strings.Contains(lines[1], `"error"`) || !strings.Contains(errOut.String(), "missing.png") {
		t.Fatalf("missing image not reported: %s / %s", lines[1], errOut.String())
	}
}

func TestEmbed(t *testing.T) {
	model := saveTiny(t)
	out := filepath.Join(t.TempDir(), "feats.safetensors")
	var so, se strings.Builder
	if code := run([]string{"embed", "--model", model, "--out", out, "../../imageio/testdata/in/chelsea.png", "../../imageio/testdata/in/chelsea.png"}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	f, err := safetensors.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	x, shape, err := f.Float32("features")
	if err != nil || shape[0] != 2 || shape[1] != 16 {
		t.Fatalf("features %v, %v", shape, err)
	}
	for j := range 16 {
		if x[j] != x[16+j] {
			t.Fatal("the same image gave different features")
		}
	}
	if code := run([]string{"embed", "--model", model, "--out", filepath.Join(t.TempDir(), "x.txt"), "a.png"}, &so, &se); code == 0 {
		t.Fatal("an unknown output format was accepted")
	}
}

func TestFewshotAndEval(t *testing.T) {
	dir := t.TempDir()
	var so, se strings.Builder
	if code := run([]string{"train", "--data", "embedded", "--steps", "20", "--depth", "1", "--dim", "32", "--mlp", "64", "--patch", "7",
		"--cutmix", "1", "--mix-prob", "0.5", "--out", filepath.Join(dir, "run")}, &so, &se); code != 0 {
		t.Fatalf("train exit %d: %s", code, se.String())
	}
	// The flags reach the run folder; the default recipe's mix-off epoch
	// (20 of 35) scales to this run of under one epoch.
	var st struct {
		Options struct {
			Mix         struct{ CutMix, Prob float32 }
			MixOffEpoch int `json:"mix_off_epoch"`
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "run", "state.json")); err != nil || json.Unmarshal(b, &st) != nil {
		t.Fatalf("state.json: %v", err)
	}
	if o := st.Options; o.Mix.CutMix != 1 || o.Mix.Prob != 0.5 || o.MixOffEpoch != 1 {
		t.Errorf("run options: %+v, want CutMix 1, probability 0.5, off after epoch 1", o)
	}
	so.Reset()
	if code := run([]string{"fewshot", "--model", filepath.Join(dir, "run"), "--data", "embedded", "--shots", "1,5", "--trials", "2", "--json"}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	var res struct {
		Results []struct {
			Shots    int
			Accuracy float64
		}
	}
	if err := json.Unmarshal([]byte(so.String()), &res); err != nil || len(res.Results) != 2 {
		t.Fatalf("%v: %s", err, so.String())
	}
	for _, r := range res.Results {
		if r.Accuracy <= 0.15 { // chance is 0.10
			t.Errorf("%d-shot accuracy %.3f, no better than chance", r.Shots, r.Accuracy)
		}
	}
	so.Reset()
	if code := run([]string{"eval", "--model", filepath.Join(dir, "run"), "--data", "embedded", "--json"}, &so, &se); code != 0 {
		t.Fatalf("eval exit %d: %s", code, se.String())
	}
	if !strings.Contains(so.String(), `"confusion"`) {
		t.Fatalf("eval JSON lacks the confusion matrix: %s", so.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "run", "metrics.jsonl")); err != nil {
		t.Fatal(err)
	}
}

func TestBadInput(t *testing.T) {
	var so, se strings.Builder
	for _, args := range [][]string{
		{"train", "--model", "X/16"},
		{"train", "--data", "/nonexistent"},
		{"train", "--data", "embedded", "--cutmix", "-0.5", "--steps", "1"},
		{"train", "--data", "embedded", "--val", "-1", "--steps", "1"},
		{"train", "--data", "embedded", "--val", "3001", "--steps", "1"},
		{"train", "--data", "embedded", "--mixup", "0.8", "--mix-prob", "2", "--steps", "1"},
		{"eval", "--model", "/nonexistent"},
		{"info", "--model", "B/15", "--image", "224"},
		{"predict", "--model", "/nonexistent", "a.png"},
	} {
		se.Reset()
		if code := run(args, &so, &se); code == 0 || se.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q; want an error", args, code, se.String())
		}
	}
	if code := run([]string{"train", "--help"}, &so, &se); code != 0 {
		t.Errorf("--help exits %d", code)
	}
}

// TestFinetune fine-tunes a Fashion-MNIST model at a new resolution and as a
// linear probe, on the embedded data, and checks the run is usable.
func TestFinetune(t *testing.T) {
	dir := t.TempDir()
	var so, se strings.Builder
	base := filepath.Join(dir, "base")
	if code := run([]string{"train", "--data", "embedded", "--steps", "10", "--depth", "1", "--dim", "32", "--mlp", "64", "--patch", "7", "--out", base}, &so, &se); code != 0 {
		t.Fatalf("train exit %d: %s", code, se.String())
	}
	for _, extra := range [][]string{{"--image", "35"}, {"--linear-probe"}} {
		out := filepath.Join(dir, "ft"+extra[0])
		args := append([]string{"finetune", "--model", base, "--data", "embedded", "--steps", "12", "--json", "--out", out}, extra...)
		so.Reset()
		if code := run(args, &so, &se); code != 0 {
			t.Fatalf("%v: exit %d: %s", extra, code, se.String())
		}
		m, err := checkpoint.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		if extra[0] == "--image" && (m.Config.ImageHeight != 35 || m.Config.Tokens() != 26) {
			t.Fatalf("fine-tuned model is %d px with %d tokens, want 35 px and 26 tokens", m.Config.ImageHeight, m.Config.Tokens())
		}
		if !strings.Contains(so.String(), `"test_accuracy"`) {
			t.Fatalf("no result: %s", so.String())
		}
	}
	// A linear probe leaves the body as it was.
	b, _ := checkpoint.Load(base)
	p, _ := checkpoint.Load(filepath.Join(dir, "ft--linear-probe"))
	if b.Blocks[0].FC1.W.Data[3] != p.Blocks[0].FC1.W.Data[3] {
		t.Fatal("the linear probe changed the body")
	}
}

// TestBenchSavedModel: vit bench --model PATH measures a saved model as it
// is (its shape in the JSON), and refuses shape flags beside it.
func TestBenchSavedModel(t *testing.T) {
	model := saveTiny(t)
	var out, errOut strings.Builder
	if code := run([]string{"bench", "--model", model, "--seconds", "0.05", "--batch", "2", "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), `"images_per_s"`) || !strings.Contains(out.String(), "dim 16, depth 1") {
		t.Errorf("bench of the saved model: %s", out.String())
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"bench", "--model", model, "--depth", "3"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "--depth: --model") {
		t.Errorf("a shape flag beside a saved model: exit %d, %s", code, errOut.String())
	}
}

// TestInfoSavedModel: vit info --model PATH describes a saved model as
// loaded (its own depth, not a preset's), says when it has no classifier,
// and refuses shape flags beside it.
func TestInfoSavedModel(t *testing.T) {
	model := saveTiny(t)
	var out, errOut strings.Builder
	if code := run([]string{"info", "--model", model, "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var info struct {
		Config struct{ Dim, Depth int }
		Params int64
	}
	if err := json.Unmarshal([]byte(out.String()), &info); err != nil || info.Config.Dim != 16 || info.Config.Depth != 1 || info.Params == 0 {
		t.Errorf("info of the saved model: %v %s", err, out.String())
	}
	out.Reset()
	if code := run([]string{"info", "--model", filepath.Join("..", "..", "testdata", "encoders", "hf_clip")}, &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), "no classifier (image embeddings of 8 values)") {
		t.Errorf("info of a CLIP image tower: exit %d, %s", code, out.String())
	}
	errOut.Reset()
	if code := run([]string{"info", "--model", model, "--heads", "3"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "--heads: --model") {
		t.Errorf("a shape flag beside a saved model: exit %d, %s", code, errOut.String())
	}
}
