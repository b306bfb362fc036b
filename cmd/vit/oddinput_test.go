package main

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitgo/vit/checkpoint"
)

// TestOddInputs runs commands on what a careless user gives them (a folder
// without images, a run folder whose state.json is damaged or names a
// missing checkpoint, an output folder under a file, a metrics log with
// garbage lines): each gets one line naming what is wrong and a non-zero
// exit, or, where the command can go on, a warning; never a stack trace,
// never a silent success.
func TestOddInputs(t *testing.T) {
	dir := t.TempDir()
	run1 := filepath.Join(dir, "run")
	var so, se strings.Builder
	if code := run(tinyTrain("2", "--out", run1), &so, &se); code != 0 {
		t.Fatalf("train exit %d: %s", code, se.String())
	}
	img := filepath.Join("..", "..", "imageio", "testdata", "in", "chelsea.png")
	noImages := filepath.Join(dir, "no-images")
	os.MkdirAll(filepath.Join(noImages, "sub"), 0o755)
	os.WriteFile(filepath.Join(noImages, "notes.txt"), []byte("x"), 0o644)
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)

	// Copies of the run folder with a damaged state.json.
	damaged := func(name, state string) string {
		d := filepath.Join(dir, name)
		os.MkdirAll(d, 0o755)
		ents, _ := os.ReadDir(run1)
		for _, e := range ents {
			if e.IsDir() {
				os.Symlink(filepath.Join(run1, e.Name()), filepath.Join(d, e.Name()))
			}
		}
		os.WriteFile(filepath.Join(d, "state.json"), []byte(state), 0o644)
		return d
	}
	// A model whose normalisation divides by zero.
	m, err := checkpoint.Load(run1)
	if err != nil {
		t.Fatal(err)
	}
	m.Config.Std = []float32{0}
	std0 := filepath.Join(dir, "std0")
	if err := checkpoint.Save(std0, m); err != nil {
		t.Fatal(err)
	}
	corrupt := damaged("corrupt", `{"step": "x", garbage`)
	empty := damaged("empty", ``)
	nameless := damaged("nameless", `{"step": 2}`)
	missing := damaged("missing", `{"checkpoint": "ckpt-0000099"}`)

	for _, tc := range []struct {
		args  []string
		want  []string // in stderr
		lines int      // of stderr
	}{
		{[]string{"predict", "--model", run1, noImages}, []string{noImages, "without images"}, 1},
		{[]string{"embed", "--model", run1, "--out", filepath.Join(dir, "e.jsonl"), noImages}, []string{noImages, "without images"}, 1},
		{[]string{"attention", "--model", run1, "--out", filepath.Join(dir, "att"), img, noImages}, []string{noImages, "without images"}, 1},
		{[]string{"embed", "--model", run1, "--out", filepath.Join(dir, "e.jsonl"), file}, []string{file, "none of the 1 images", "not written"}, 2}, // the image, the end
		{[]string{"eval", "--model", std0, "--data", "embedded"}, []string{"std[0] is 0"}, 1},
		{[]string{"predict", "--model", std0, img}, []string{"std[0] is 0"}, 1},
		{[]string{"predict", "--model", corrupt, img}, []string{filepath.Join(corrupt, "state.json"), "corrupt"}, 1},
		{[]string{"eval", "--model", empty, "--data", "embedded"}, []string{filepath.Join(empty, "state.json"), "corrupt"}, 1},
		{[]string{"embed", "--model", nameless, "--out", filepath.Join(dir, "e.jsonl"), img}, []string{filepath.Join(nameless, "state.json"), "no checkpoint"}, 1},
		{[]string{"predict", "--model", missing, img}, []string{"ckpt-0000099"}, 1},
		{tinyTrain("1", "--out", filepath.Join(file, "run")), []string{"--out", file}, 1},
		{[]string{"finetune", "--model", run1, "--data", "embedded", "--steps", "1", "--out", file}, []string{"--out", file}, 1},
	} {
		se.Reset()
		code := run(tc.args, &so, &se)
		if code == 0 || crashed(se.String()) || strings.Count(strings.TrimSpace(se.String()), "\n")+1 != tc.lines {
			t.Errorf("%q: exit %d, stderr %q; want %d line(s) and a non-zero exit", tc.args, code, se.String(), tc.lines)
		}
		for _, w := range tc.want {
			if !strings.Contains(se.String(), w) {
				t.Errorf("%q: stderr %q, want it to name %q", tc.args, se.String(), w)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "e.jsonl")); err == nil {
		t.Error("a failed vit embed wrote its output")
	}

	// A metrics log with garbage lines still gives a report, with a warning.
	garbage := damaged("garbage", "")
	state, _ := os.ReadFile(filepath.Join(run1, "state.json"))
	os.WriteFile(filepath.Join(garbage, "state.json"), state, 0o644)
	metrics, _ := os.ReadFile(filepath.Join(run1, "metrics.jsonl"))
	os.WriteFile(filepath.Join(garbage, "metrics.jsonl"), append(metrics, "garbage\n{\"type\":\"epoch\",\"epoch\":\"x\"}\n"...), 0o644)
	se.Reset()
	args := []string{"report", "--run", garbage, "--data", "embedded", "--images", "4", "--rollouts", "1", "--out", filepath.Join(dir, "report")}
	if code := run(args, &so, &se); code != 0 || !strings.Contains(se.String(), "not records") || !strings.Contains(se.String(), "lines=2") {
		t.Errorf("%q: exit %d, stderr %q; want a report and a warning about 2 lines", args, code, se.String())
	}
}

// TestNonSquareDataset: a class-folder dataset of 14×21 images trains a
// 14×21 model (the model takes the dataset's height and width), instead of
// a square one the data does not fit.
func TestNonSquareDataset(t *testing.T) {
	dir := t.TempDir()
	for k, class := range []string{"dark", "light"} {
		os.MkdirAll(filepath.Join(dir, "data", class), 0o755)
		for i := range 5 {
			img := image.NewGray(image.Rect(0, 0, 21, 14))
			for p := range img.Pix {
				img.Pix[p] = uint8(40 + 150*k + 7*i + p%5)
			}
			f, err := os.Create(filepath.Join(dir, "data", class, string(rune('a'+i))+".png"))
			if err != nil {
				t.Fatal(err)
			}
			png.Encode(f, img)
			f.Close()
		}
	}
	var so, se strings.Builder
	out := filepath.Join(dir, "run")
	args := []string{"train", "--data", filepath.Join(dir, "data"), "--steps", "1", "--batch", "4", "--depth", "1", "--dim", "16",
		"--mlp", "32", "--heads", "2", "--patch", "7", "--stem", "none", "--cutmix", "0", "--val", "0", "--out", out}
	if code := run(args, &so, &se); code != 0 {
		t.Fatalf("training on 14×21 images: exit %d: %s", code, se.String())
	}
	m, err := checkpoint.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.ImageHeight != 14 || m.Config.ImageWidth != 21 {
		t.Fatalf("the model takes %d×%d images, want 14×21", m.Config.ImageHeight, m.Config.ImageWidth)
	}
}

// TestTrainImageResizes: vit train --image trains on the data resized to
// the model's input (it refused, telling the user to set the --image they
// had set), the run resumes on the same data, and a size whose data would
// not fit in memory is refused before any is resized.
func TestTrainImageResizes(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	var so, se strings.Builder
	if code := run(tinyTrain("1", "--image", "14", "--out", out), &so, &se); code != 0 {
		t.Fatalf("train --image 14: exit %d: %s", code, se.String())
	}
	m, err := checkpoint.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.ImageHeight != 14 || m.Config.ImageWidth != 14 {
		t.Fatalf("the model takes %d×%d images, want 14×14", m.Config.ImageHeight, m.Config.ImageWidth)
	}
	se.Reset()
	if code := run([]string{"train", "--resume", out}, &so, &se); code != 0 {
		t.Fatalf("resuming a run trained at --image 14: exit %d: %s", code, se.String())
	}
	se.Reset()
	args := tinyTrain("1", "--image", "16000", "--patch", "1000", "--batch", "1", "--out", filepath.Join(dir, "huge"))
	if code := run(args, &so, &se); code == 0 || !strings.Contains(se.String(), "--image") || crashed(se.String()) {
		t.Fatalf("--image 16000: exit %d, stderr %q; want a refusal naming --image", code, se.String())
	}
}
