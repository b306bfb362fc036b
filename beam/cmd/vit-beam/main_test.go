package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/checkpoint"
)

// TestMain runs vit-beam itself when the test re-executes its binary with
// VIT_BEAM_MAIN=1, so that the tests see its exit status and output.
func TestMain(m *testing.M) {
	if os.Getenv("VIT_BEAM_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func vitBeam(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "VIT_BEAM_MAIN=1")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), o.String(), e.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, o.String(), e.String()
}

// A bad flag is one line naming it, and exit status 2, before any model is
// loaded or pipeline built.
func TestBadFlags(t *testing.T) {
	ok := []string{"--model", "m", "--input", "*.png", "--output", "out/x"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "-bogus"},
		{[]string{"--top", "many"}, "-top"},
		{ok[2:], "--model"},
		{ok[:2], "--input"},
		{ok[:4], "--output"},
		{append(ok, "--task", "train"), "--task"},
		{append(ok, "--format", "csv"), "--format"},
		{append(ok, "--top", "0"), "--top"},
		{append(ok, "--batch", "-1"), "--batch"},
		{append(ok, "--dtype", "fp16"), "--dtype"},
		{append(ok, "--logits"), "--logits"},
		{append(ok, "--runner", "nowhere"), "--runner"},
		{append(ok, "extra.png"), "extra.png"},
	} {
		code, _, stderr := vitBeam(t, c.args...)
		if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "vit-beam: ") || !strings.Contains(stderr, c.want) {
			t.Errorf("vit-beam %s: exit %d, stderr %q; want exit 2 and one line naming %s", strings.Join(c.args, " "), code, stderr, c.want)
		}
	}
}

// The command runs the pipeline on Prism: a model that cannot be loaded, a
// missing input list or an output that cannot be written is one line and exit 1; a run with an unreadable image writes the others,
// says how many failed and exits 1.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	c := vit.Config{ImageHeight: 8, ImageWidth: 8, Channels: 1, Patch: 4, Dim: 8, Depth: 1, Heads: 2, MLPDim: 16, Classes: 2}
	m, err := vit.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "model")
	if err := checkpoint.Save(model, m); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		img := image.NewGray(image.Rect(0, 0, 8, 8))
		img.Pix[i] = 255
		var b bytes.Buffer
		png.Encode(&b, img)
		os.WriteFile(filepath.Join(dir, string(rune('a'+i))+".png"), b.Bytes(), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "bad.png"), []byte("GIF89a"), 0o644)
	out := filepath.Join(dir, "out", "emb")

	code, _, stderr := vitBeam(t, "--model", filepath.Join(dir, "nothing"), "--input", filepath.Join(dir, "*.png"), "--output", out)
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "nothing") {
		t.Errorf("missing model: exit %d, %q", code, stderr)
	}
	code, _, stderr = vitBeam(t, "--model", model, "--input", filepath.Join(dir, "*.png"), "--output", filepath.Join(dir, "bad.png", "emb"))
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "vit-beam: --output: ") {
		t.Errorf("output under a file: exit %d, %q", code, stderr)
	}
	code, _, stderr = vitBeam(t, "--model", model, "--input-list", filepath.Join(dir, "list.txt"), "--output", out)
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "vit-beam: --input-list: ") {
		t.Errorf("missing input list: exit %d, %q", code, stderr)
	}
	code, stdout, stderr := vitBeam(t, "--model", model, "--input", filepath.Join(dir, "*.png"), "--output", out, "--task", "predict", "--top", "1")
	if code != 1 || !strings.Contains(stdout, "3 images written") || !strings.Contains(stderr, "1 of 4 inputs") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	b, err := os.ReadFile(out + "-00000-of-00001.jsonl")
	if err != nil || strings.Count(string(b), `{"file":`) != 3 {
		t.Errorf("predictions %s: %v", b, err)
	}
}
