package main

import (
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/checkpoint"
)

// tinyModel saves a small untrained model and returns its folder.
func tinyModel(t *testing.T, channels int) string {
	t.Helper()
	c := vit.Config{ImageHeight: 16, ImageWidth: 16, Channels: channels, Patch: 4, Dim: 16, Depth: 2, Heads: 2, MLPDim: 32,
		Classes: 3, Labels: []string{"cat", "dog", "hot dog"}, Mean: []float32{0.5}, Std: []float32{0.25}}
	m, err := vit.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Head.W.Data {
		m.Head.W.Data[i] = float32(i%5) * 0.2
	}
	dir := filepath.Join(t.TempDir(), "model")
	if err := checkpoint.Save(dir, m); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeImage writes a w×h PNG with a gradient and a bright square.
func writeImage(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := uint8(4 * (x + y))
			if x > w/3 && x < w/2 && y > h/3 && y < h/2 {
				v = 255
			}
			img.Set(x, y, color.RGBA{v, 255 - v, v / 2, 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func TestAttentionCommand(t *testing.T) {
	model := tinyModel(t, 3)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png")
	writeImage(t, a, 40, 30)
	writeImage(t, b, 16, 16)
	out := filepath.Join(dir, "out")
	var stdout, stderr strings.Builder
	err := runCmd("attention", []string{"--model", model, "--out", out, "--fuse", "max", "--discard", "0.5", "--layer", "2", "--head", "1",
		"--query", "1,2", a, b}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout: %q", stdout.String())
	}
	for _, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 4 {
			t.Fatalf("line %q", l)
		}
		paths := strings.Fields(f[3])
		if len(paths) != 3 || !strings.Contains(paths[0], "-rollout-") || !strings.Contains(paths[2], "layer2-head1-r1c2") {
			t.Fatalf("paths %q", paths)
		}
		for _, p := range paths {
			if _, err := os.Stat(p); err != nil {
				t.Fatal(err)
			}
		}
	}

	// --json and --class by label, on a grey model.
	stdout.Reset()
	if err := runCmd("attention", []string{"--model", tinyModel(t, 1), "--out", out, "--class", "hot dog", "--json", a}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var r attentionResult
	if err := json.Unmarshal([]byte(stdout.String()), &r); err != nil {
		t.Fatal(err)
	}
	if r.Class != 2 || r.ClassLabel != "hot dog" || !strings.HasSuffix(r.GradientRollout, "-gradrollout-hot_dog.png") {
		t.Fatalf("%+v", r)
	}
	if !strings.HasSuffix(r.Rollout, ".png") || r.Probability <= 0 || r.Probability > 1 {
		t.Fatalf("%+v", r)
	}

	// Bad input.
	for _, args := range [][]string{
		{"--model", model},
		{"--model", model, "--fuse", "median", a},
		{"--model", model, "--class", "7", a},
		{"--model", model, "--query", "9,9", "--layer", "1", a},
		{"--model", model, filepath.Join(dir, "missing.png")},
	} {
		if err := runCmd("attention", args, &stdout, &stderr); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

// A Performer model has no attention maps: vit attention and vit report
// say so in one line before any work, instead of failing after the
// rollout has started (with a hint meant for library callers).
func TestFiguresRefusePerformer(t *testing.T) {
	c := vit.Config{ImageHeight: 16, ImageWidth: 16, Channels: 1, Patch: 4, Dim: 16, Depth: 1, Heads: 2, MLPDim: 32,
		Classes: 3, Attention: "performer", Features: 8, Mean: []float32{0.5}, Std: []float32{0.25}}
	m, err := vit.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	model := filepath.Join(dir, "model")
	if err := checkpoint.Save(model, m); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "a.png")
	writeImage(t, img, 16, 16)
	out := filepath.Join(dir, "out")
	for _, args := range [][]string{{"attention", "--model", model, "--out", out, img}, {"report", "--model", model, "--out", out}} {
		var so, se strings.Builder
		code := run(args, &so, &se)
		msg := se.String()
		if code == 0 || !strings.Contains(msg, "uses Performer attention") || strings.Count(msg, "\n") != 1 || strings.Contains(msg, "SetAttention") {
			t.Errorf("vit %s on a Performer model: exit %d, stderr %q", args[0], code, msg)
		}
	}
}
