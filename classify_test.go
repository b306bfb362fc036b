package vit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/imageio"
)

// goldenImages are the images of testdata/classify, in the order vit
// predict and vit embed were given them.
var goldenImages = []string{"chelsea.png", "small_pal.png", "small420.jpg"}

func loadGoldenImages(t *testing.T) []image.Image {
	t.Helper()
	var imgs []image.Image
	for _, f := range goldenImages {
		rgb, err := imageio.Load(filepath.Join("imageio", "testdata", "in", f))
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, rgb.Image())
	}
	return imgs
}

// readJSONL decodes one value per line of path into a new T each.
func readJSONL[T any](t *testing.T, path string) []T {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		var v T
		if err := json.Unmarshal(s.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// Classify and Embed give exactly what vit predict --json and vit embed
// printed before they existed (testdata/classify/README.md), for a Hugging
// Face-style, a timm-style and a grey model.
func TestClassifyEmbedMatchCLI(t *testing.T) {
	imgs := loadGoldenImages(t)
	ctx := context.Background()
	for _, name := range []string{"hf", "timm", "grey"} {
		dir := filepath.Join("testdata", "classify", name)
		m, err := checkpoint.Load(filepath.Join(dir, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		want := readJSONL[struct {
			File string      `json:"file"`
			Top  []vit.Class `json:"top"`
		}](t, filepath.Join(dir, "predict.jsonl"))
		got, err := vit.ClassifyBatch(ctx, m, imgs, 3)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range want {
			if len(got[i]) != len(w.Top) {
				t.Fatalf("%s %s: %d classes, want %d", name, w.File, len(got[i]), len(w.Top))
			}
			for j := range w.Top {
				if got[i][j] != w.Top[j] {
					t.Errorf("%s %s: class %d is %+v, vit predict said %+v", name, w.File, j, got[i][j], w.Top[j])
				}
			}
			one, err := vit.Classify(ctx, m, imgs[i], 3)
			if err != nil || one[0] != got[i][0] {
				t.Errorf("%s %s: Classify %+v (%v), ClassifyBatch %+v", name, w.File, one, err, got[i])
			}
		}
		feats := readJSONL[struct {
			File     string    `json:"file"`
			Features []float32 `json:"features"`
		}](t, filepath.Join(dir, "embed.jsonl"))
		emb, err := vit.EmbedBatch(ctx, m, imgs)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range feats {
			if len(emb[i]) != m.Config.Dim {
				t.Fatalf("%s %s: %d features, want %d", name, w.File, len(emb[i]), m.Config.Dim)
			}
			for j := range w.Features {
				if emb[i][j] != w.Features[j] {
					t.Fatalf("%s %s: feature %d is %v, vit embed said %v", name, w.File, j, emb[i][j], w.Features[j])
				}
			}
		}
		one, err := vit.Embed(ctx, m, imgs[1])
		if err != nil || one[0] != emb[1][0] {
			t.Errorf("%s: Embed %v (%v), EmbedBatch %v", name, one, err, emb[1])
		}
	}
}

// A photo given to a grey 28×28 model is classified, with one warning that
// says why; an image that fits gives none.
func TestClassifyWarnsOnMisfit(t *testing.T) {
	m, err := checkpoint.Load(filepath.Join("testdata", "classify", "grey", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(old)

	imgs := loadGoldenImages(t)
	if _, err := vit.ClassifyBatch(context.Background(), m, imgs, 1); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if strings.Count(out, "level=WARN") != 1 || !strings.Contains(out, "misfits=3") || !strings.Contains(out, "colour image") || !strings.Contains(out, "shrunk") {
		t.Fatalf("want one warning about 3 colour photos shrunk to 28x28, got:\n%s", out)
	}
	logs.Reset()
	grey := image.NewGray(image.Rect(0, 0, 28, 28))
	if _, err := vit.Embed(context.Background(), m, grey); err != nil {
		t.Fatal(err)
	}
	if logs.Len() != 0 {
		t.Fatalf("a 28x28 grey image was warned about: %s", logs.String())
	}
}

// ClassifyBatch checks its context before each batch.
func TestClassifyCancelled(t *testing.T) {
	m, err := checkpoint.Load(filepath.Join("testdata", "classify", "hf", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := vit.ClassifyBatch(ctx, m, loadGoldenImages(t), 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: err %v", err)
	}
	if _, err := vit.Classify(context.Background(), m, loadGoldenImages(t)[0], 0); err == nil {
		t.Fatal("top 0 accepted")
	}
	if _, err := vit.Embed(context.Background(), nil, loadGoldenImages(t)[0]); err == nil {
		t.Fatal("a nil model accepted")
	}
	if _, err := vit.EmbedBatch(context.Background(), m, []image.Image{nil}); err == nil {
		t.Fatal("a nil image accepted")
	}
}
