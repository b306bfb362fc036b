package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/train"
)

// tinyTrain is a vit train command line of a run of a few steps on the
// embedded data.
func tinyTrain(steps string, more ...string) []string {
	return append([]string{"train", "--data", "embedded", "--steps", steps, "--batch", "32", "--depth", "1", "--dim", "16",
		"--mlp", "32", "--heads", "2", "--patch", "7", "--stem", "none", "--cutmix", "0", "--lr", "0.002"}, more...)
}

// TestTrainRunFolderGuards: a new run refuses an existing run's folder; a
// resumed run refuses flags that contradict it (naming the flag and both
// values) and takes flags equal to its own; a folder killed before its
// first checkpoint starts again from the beginning.
func TestTrainRunFolderGuards(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	var so, se strings.Builder
	if code := run(tinyTrain("2", "--out", dir, "--save-every", "1", "--keep", "2"), &so, &se); code != 0 {
		t.Fatalf("train exit %d: %s", code, se.String())
	}
	state := filepath.Join(dir, "state.json")
	before, _ := os.ReadFile(state)
	if ckpts, _ := filepath.Glob(filepath.Join(dir, "ckpt-*")); len(ckpts) != 2 {
		t.Errorf("--keep 2 left %v", ckpts)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{tinyTrain("2", "--out", dir), []string{dir, "--resume"}},
		{tinyTrain("2", "--resume", dir, "--lr", "0.5"), []string{"--lr 0.5", "0.002"}},
		{tinyTrain("2", "--resume", dir, "--batch", "64"), []string{"--batch 64", "32"}},
		{tinyTrain("2", "--resume", dir, "--dim", "24"), []string{"--dim 24", "16"}},
		{tinyTrain("2", "--resume", dir, "--data", "fashion-mnist"), []string{"--data"}},
		{tinyTrain("2", "--resume", dir, "--keep", "0"), []string{"--keep"}},
		{tinyTrain("2", "--resume", dir, "--save-every", "0"), []string{"save-every"}},
	} {
		se.Reset()
		if code := run(tc.args, &so, &se); code == 0 {
			t.Errorf("%q: exit 0, want a refusal", tc.args)
		}
		for _, w := range tc.want {
			if !strings.Contains(se.String(), w) || strings.Contains(se.String(), "goroutine") {
				t.Errorf("%q: stderr %q, want it to name %q", tc.args, se.String(), w)
			}
		}
		if after, _ := os.ReadFile(state); string(before) != string(after) {
			t.Fatalf("%q changed the run's state.json", tc.args)
		}
	}
	se.Reset()
	if code := run(tinyTrain("2", "--resume", dir, "--batch", "32", "--keep", "1"), &so, &se); code != 0 {
		t.Fatalf("resuming with the run's own flags: exit %d: %s", code, se.String())
	}

	early := filepath.Join(t.TempDir(), "early")
	os.MkdirAll(early, 0o755)
	os.WriteFile(filepath.Join(early, "metrics.jsonl"), []byte(`{"type":"st`), 0o644)
	se.Reset()
	if code := run(tinyTrain("2", "--resume", early), &so, &se); code != 0 {
		t.Fatalf("resuming a folder killed before its first checkpoint: exit %d: %s", code, se.String())
	}
	if !strings.Contains(se.String(), "no checkpoint yet: starting the run from the beginning") {
		t.Errorf("resuming a folder without a checkpoint said %q, want it to say the run starts from the beginning", se.String())
	}
	if _, err := os.Stat(filepath.Join(early, "state.json")); err != nil {
		t.Fatalf("the restarted run saved nothing: %v", err)
	}
}

// TestEmbedChecksOutputFirst: embed refuses an output it cannot write
// before it loads the model or reads an image.
func TestEmbedChecksOutputFirst(t *testing.T) {
	var so, se strings.Builder
	out := filepath.Join(t.TempDir(), "missing", "feats.jsonl")
	if code := run([]string{"embed", "--model", "no-such-model", "--out", out, "no-such.png"}, &so, &se); code == 0 ||
		!strings.Contains(se.String(), out) || strings.Contains(se.String(), "no-such-model") {
		t.Fatalf("exit %d, stderr %q: want an error about %s before the model", code, se.String(), out)
	}
}

// TestFigureCommandsCheckOutputFirst: attention and report refuse an
// output folder they cannot write (a file, or a folder under a file) before
// they load the model.
func TestFigureCommandsCheckOutputFirst(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, []byte("x"), 0o644)
	for _, out := range []string{file, filepath.Join(file, "figures")} {
		for _, args := range [][]string{
			{"attention", "--model", "no-such-model", "--out", out, "no-such.png"},
			{"report", "--model", "no-such-model", "--out", out},
		} {
			var so, se strings.Builder
			if code := run(args, &so, &se); code == 0 || !strings.Contains(se.String(), out) ||
				strings.Contains(se.String(), "no-such-model") || crashed(se.String()) {
				t.Errorf("%q: exit %d, stderr %q: want an error about %s before the model", args, code, se.String(), out)
			}
		}
	}
}

// cancelOn is a writer that cancels a context when what is written to it
// contains word: an interruption at a chosen moment.
type cancelOn struct {
	strings.Builder
	word   string
	cancel context.CancelFunc
}

func (w *cancelOn) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.word) {
		w.cancel()
	}
	return w.Builder.Write(p)
}

// TestInterruptedDownload: the commands that open a dataset download it
// under the command's context, so an interruption (Ctrl-C cancels that
// context) stops the download before anything is fetched or left behind.
// The context is cancelled as the download starts; the package's offline
// guard fails the test if anything is dialled.
func TestInterruptedDownload(t *testing.T) {
	if _, err := os.Stat("/usr/share/datasets/mnist"); err == nil {
		t.Skip("MNIST is installed: nothing would be downloaded")
	}
	dir := t.TempDir()
	model := filepath.Join(dir, "model")
	var so, se strings.Builder
	if code := run(tinyTrain("1", "--out", model), &so, &se); code != 0 {
		t.Fatalf("train exit %d: %s", code, se.String())
	}
	cache := filepath.Join(dir, "cache")
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("VIT_DATA", filepath.Join(dir, "data"))
	for _, args := range [][]string{
		tinyTrain("1", "--data", "mnist", "--out", filepath.Join(dir, "run")),
		{"eval", "--model", model, "--data", "mnist"},
		{"fewshot", "--model", model, "--data", "mnist"},
		{"finetune", "--model", model, "--data", "mnist", "--out", filepath.Join(dir, "ft")},
		{"report", "--model", model, "--data", "mnist", "--out", filepath.Join(dir, "report")},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		se := &cancelOn{word: "downloading", cancel: cancel}
		code := runContext(ctx, args, strings.NewReader(""), &so, se)
		cancel()
		if code == 0 || !strings.Contains(se.String(), "interrupted") || crashed(se.String()) {
			t.Errorf("%q interrupted as the download starts: exit %d, stderr %q; want it to say it was interrupted", args, code, se.String())
		}
		var left []string
		filepath.WalkDir(cache, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				left = append(left, path)
			}
			return nil
		})
		if len(left) > 0 {
			t.Errorf("%q left %v", args, left)
		}
	}
}

// TestFinetuneRunFolder: vit finetune holds out a validation split and
// scores it after every epoch, saves within epochs (--save-every) and keeps
// --keep checkpoints, and records its data, so that a fine-tuning at a new
// resolution interrupted after its first epoch and continued with vit train
// --resume ends with the same weights as an uninterrupted one.
func TestFinetuneRunFolder(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	var so, se strings.Builder
	if code := run(tinyTrain("2", "--out", base), &so, &se); code != 0 {
		t.Fatalf("train exit %d: %s", code, se.String())
	}
	finetune := func(out string) []string {
		// 5400 embedded training images less 1400: 62 batches of 64 per epoch.
		return []string{"finetune", "--model", base, "--data", "embedded", "--image", "35", "--steps", "70", "--batch", "64",
			"--warmup", "5", "--val", "1400", "--save-every", "20", "--keep", "2", "--out", out}
	}
	whole := filepath.Join(dir, "whole")
	se.Reset()
	if code := run(finetune(whole), &so, &se); code != 0 {
		t.Fatalf("finetune exit %d: %s", code, se.String())
	}
	if !strings.Contains(se.String(), "validation loss") || !strings.Contains(so.String(), "validation accuracy") ||
		!strings.Contains(so.String(), "test accuracy") {
		t.Errorf("finetune printed %q on stdout and %q on stderr: want validation after the epoch and at the end, and the test score", so.String(), se.String())
	}
	if ckpts, _ := filepath.Glob(filepath.Join(whole, "ckpt-*")); len(ckpts) != 2 {
		t.Errorf("--keep 2 left %v", ckpts)
	}
	o, err := train.RunOptions(whole)
	if err != nil {
		t.Fatal(err)
	}
	if o.Data != "embedded" || o.ValidationSize != 1400 || o.Keep != 2 || o.SaveEvery.Steps != 20 {
		t.Errorf("the run folder records data %q, validation %d, keep %d, save every %+v; want embedded, 1400, 2, 20 steps",
			o.Data, o.ValidationSize, o.Keep, o.SaveEvery)
	}

	cut := filepath.Join(dir, "cut")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &cancelOn{word: "validation loss", cancel: cancel} // interrupted after the first epoch
	if code := runContext(ctx, finetune(cut), strings.NewReader(""), &so, stderr); code == 0 || !strings.Contains(stderr.String(), "vit train --resume "+cut) {
		t.Fatalf("interrupted finetune: exit %d, stderr %q: want it to say how to continue", code, stderr.String())
	}
	se.Reset()
	if code := run([]string{"train", "--resume", cut}, &so, &se); code != 0 {
		t.Fatalf("vit train --resume of a fine-tuning: exit %d: %s", code, se.String())
	}
	a, err := checkpoint.Load(whole)
	if err != nil {
		t.Fatal(err)
	}
	b, err := checkpoint.Load(cut)
	if err != nil {
		t.Fatal(err)
	}
	if b.Config.ImageHeight != 35 {
		t.Fatalf("the resumed fine-tuning's model takes %d px, want 35", b.Config.ImageHeight)
	}
	pa, pb := a.Params(), b.Params()
	for i := range pa {
		if !slices.Equal(pa[i].Data, pb[i].Data) {
			t.Fatalf("parameter %s differs between the interrupted and resumed fine-tuning and the uninterrupted one", pa[i].Name)
		}
	}

	// The fine-tuned 35×35 model is scored on the 28×28 data it was tuned
	// on, resized as fine-tuning resized it.
	for _, args := range [][]string{
		{"eval", "--model", whole, "--data", "embedded"},
		{"fewshot", "--model", whole, "--data", "embedded", "--shots", "1", "--trials", "1", "--test-images", "50"},
		{"report", "--run", whole, "--data", "embedded", "--images", "4", "--rollouts", "1", "--out", filepath.Join(dir, "report")},
	} {
		se.Reset()
		if code := run(args, &so, &se); code != 0 || !strings.Contains(se.String(), "to the model's 35×35") {
			t.Errorf("%q: exit %d, stderr %q; want it to score the data resized to 35×35", args, code, se.String())
		}
	}
}
