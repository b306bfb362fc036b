package main

import (
	"context"
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/imageio"
)

const greyModel = "../../testdata/classify/grey/model.safetensors"

// vit predict prints what vit.ClassifyBatch returns, and warns on stderr,
// on a line of its own, about a colour photo given to a 28×28 grey model.
func TestPredictIsClassify(t *testing.T) {
	files := []string{"../../imageio/testdata/in/chelsea.png", "../../imageio/testdata/in/small420.jpg"}
	var so, se strings.Builder
	if code := run(append([]string{"predict", "--model", greyModel, "--json", "--top", "4"}, files...), &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	m, err := checkpoint.Load(greyModel)
	if err != nil {
		t.Fatal(err)
	}
	var imgs []image.Image
	for _, f := range files {
		rgb, err := imageio.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, rgb.Image())
	}
	want, err := vit.ClassifyBatch(context.Background(), m, imgs, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSpace(so.String()), "\n") {
		var p struct{ Top []vit.Class }
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatal(err)
		}
		for j := range want[i] {
			if p.Top[j] != want[i][j] {
				t.Fatalf("%s: vit predict %+v, vit.Classify %+v", files[i], p.Top, want[i])
			}
		}
	}
	for _, f := range files {
		if !strings.Contains(se.String(), "vit: warning: image does not fit the model; its prediction may be meaningless (file="+f) {
			t.Errorf("no warning about %s:\n%s", f, se.String())
		}
	}
	if !strings.Contains(se.String(), "colour image given to a model of grey images") || !strings.Contains(se.String(), "shrunk to the model's 28x28 input") {
		t.Errorf("the warnings do not say why:\n%s", se.String())
	}
}

// Progress and errors of vit embed each take whole lines (they were glued
// to the "\rembedded N of M" line).
func TestEmbedErrorsOnFreshLine(t *testing.T) {
	out := filepath.Join(t.TempDir(), "f.jsonl")
	var so, se strings.Builder
	code := run([]string{"embed", "--model", greyModel, "--out", out,
		"../../imageio/testdata/in/small_grey.jpg", "missing.png", "../../imageio/testdata/in/small_grey.jpg"}, &so, &se)
	if code == 0 {
		t.Fatal("a missing image did not fail the command")
	}
	if strings.Contains(se.String(), "\r") {
		t.Errorf("carriage returns on a stderr that is not a terminal: %q", se.String())
	}
	var sawError bool
	for _, line := range strings.Split(strings.TrimSpace(se.String()), "\n") {
		switch {
		case strings.HasPrefix(line, "vit embed: ") && strings.Contains(line, "missing.png"):
			sawError = true
		case strings.HasPrefix(line, "embedding  "), strings.HasPrefix(line, "vit: warning: "), strings.HasPrefix(line, "vit embed: 1 of 3"):
		default:
			t.Errorf("stray stderr line %q", line)
		}
	}
	if !sawError {
		t.Errorf("the missing image was not reported on a line of its own:\n%s", se.String())
	}
}

// A folder of photos given to a grey model gets a few warnings by name and
// one line for the rest, not one per image.
func TestPredictMisfitSummary(t *testing.T) {
	img := "../../imageio/testdata/in/chelsea.png"
	var so, se strings.Builder
	if code := run([]string{"predict", "--model", greyModel, img, img, img, img, img}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	if n := strings.Count(se.String(), "(file="); n != 3 || !strings.Contains(se.String(), "vit: warning: 2 more images do not fit the model\n") {
		t.Fatalf("%d warnings by name (want %d) and no summary of the other 2:\n%s", n, 3, se.String())
	}
}

// vit embed writes what vit.EmbedBatch returns.
func TestEmbedIsEmbedBatch(t *testing.T) {
	files := []string{"../../imageio/testdata/in/small_pal.png", "../../imageio/testdata/in/small420.jpg"}
	out := filepath.Join(t.TempDir(), "f.jsonl")
	var so, se strings.Builder
	if code := run(append([]string{"embed", "--model", greyModel, "--out", out}, files...), &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	m, err := checkpoint.Load(greyModel)
	if err != nil {
		t.Fatal(err)
	}
	var imgs []image.Image
	for _, f := range files {
		rgb, err := imageio.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, rgb.Image())
	}
	want, err := vit.EmbedBatch(context.Background(), m, imgs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec struct{ Features []float32 }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rec.Features, want[i]) {
			t.Fatalf("%s: vit embed %v, vit.EmbedBatch %v", files[i], rec.Features, want[i])
		}
	}
}
