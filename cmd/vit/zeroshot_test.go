package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/batchrun"
)

// textGoldens is text/testdata/goldens.json, written by a PyTorch
// reference of transformers' CLIP and SigLIP text towers.
type textGoldens map[string]struct {
	Texts      []string
	Embeddings [][]float32
	Labels     []string
	Template   string
	Images     [][]float32
	Probs      [][]float32
}

func readTextGoldens(t *testing.T) textGoldens {
	t.Helper()
	b, err := os.ReadFile("../../text/testdata/goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	var g textGoldens
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// textModelDir assembles a Hugging Face folder from the text tower
// test checkpoint kind (clip or siglip) and its tokenizer files.
func textModelDir(t *testing.T, kind string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"config.json":       "../../text/testdata/" + kind + "/config.json",
		"model.safetensors": "../../text/testdata/" + kind + "/model.safetensors",
	}
	if kind == "siglip" {
		files["spiece.model"] = "../../tokenizer/testdata/siglip/spiece.model"
	} else {
		files["vocab.json"] = "../../tokenizer/testdata/clip/vocab.json"
		files["merges.txt"] = "../../tokenizer/testdata/clip/merges.txt"
	}
	for name, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestEmbedText: vit embed --text prints the reference's text embeddings.
func TestEmbedText(t *testing.T) {
	g := readTextGoldens(t)
	for _, kind := range []string{"clip", "siglip"} {
		gd := g[kind]
		args := []string{"embed", "--model", textModelDir(t, kind)}
		for _, s := range gd.Texts[:3] {
			args = append(args, "--text", s)
		}
		code, out, errOut := runVit(strings.NewReader(""), args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", kind, code, errOut)
		}
		sc := bufio.NewScanner(strings.NewReader(out))
		n := 0
		for ; sc.Scan(); n++ {
			var line struct {
				Text     string
				Features []float32
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatal(err)
			}
			if line.Text != gd.Texts[n] || len(line.Features) != len(gd.Embeddings[n]) {
				t.Fatalf("%s line %d: %q with %d values", kind, n, line.Text, len(line.Features))
			}
			for j, w := range gd.Embeddings[n] {
				if math.Abs(float64(line.Features[j]-w)) > 1e-4 {
					t.Fatalf("%s %q: features[%d] = %v, reference %v", kind, line.Text, j, line.Features[j], w)
				}
			}
		}
		if n != 3 {
			t.Fatalf("%s: %d lines, want 3:\n%s", kind, n, out)
		}
	}
	code, _, errOut := runVit(strings.NewReader(""), "embed", "--model", textModelDir(t, "clip"), "--text", "a", "x.png")
	if code != 2 || !strings.Contains(errOut, "give no images with it") {
		t.Errorf("--text with an image: exit %d, %q", code, errOut)
	}
}

// TestZeroshot runs vit zeroshot with the image tower replaced by the
// reference's fixed image embeddings: the probabilities printed are the
// reference's.
func TestZeroshot(t *testing.T) {
	g := readTextGoldens(t)
	for _, kind := range []string{"clip", "siglip"} {
		gd := g[kind]
		dir := t.TempDir()
		var images []string
		for i := range gd.Images {
			p := filepath.Join(dir, string(rune('a'+i))+".png")
			writeImage(t, p, 16, 16)
			images = append(images, p)
		}
		next := 0
		restore := loadImageTower
		loadImageTower = func(ctx context.Context, dir, dtype string, stderr io.Writer) (*imageTower, error) {
			c := vit.Config{ImageHeight: 16, ImageWidth: 16, Channels: 3, Patch: 4, Dim: 16, Depth: 1, Heads: 2, MLPDim: 32, Classes: 1}
			return &imageTower{config: c, dim: len(gd.Images[0]), embed: func(x []float32, n int) ([]float32, error) {
				var e []float32
				for range n {
					e = append(e, gd.Images[next]...)
					next++
				}
				return e, nil
			}}, nil
		}
		args := append([]string{"zeroshot", "--model", textModelDir(t, kind), "--labels", strings.Join(gd.Labels, ", "),
			"--template", gd.Template, "--json", "--batch", "2"}, images...)
		code, out, errOut := runVit(strings.NewReader(""), args...)
		loadImageTower = restore
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", kind, code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != len(gd.Probs) {
			t.Fatalf("%s: %d lines for %d images:\n%s", kind, len(lines), len(gd.Probs), out)
		}
		for i, l := range lines {
			var r batchrun.Prediction
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatal(err)
			}
			for j, w := range gd.Probs[i] {
				if math.Abs(float64(r.Probs[j]-w)) > 1e-4 {
					t.Errorf("%s image %d label %s: %v, reference %v", kind, i, gd.Labels[j], r.Probs[j], w)
				}
			}
			if r.Top[0].Prob < float64(r.Top[len(r.Top)-1].Prob) {
				t.Errorf("%s: top labels out of order: %+v", kind, r.Top)
			}
		}
	}
}

func TestZeroshotBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"zeroshot", "--labels", "cat,dog", "x.png"}, "--model is required"},
		{[]string{"zeroshot", "--model", "m", "x.png"}, "--labels is required"},
		{[]string{"zeroshot", "--model", "m", "--labels", "cat,,dog", "x.png"}, "--labels cat,,dog: must be labels separated by commas"},
		{[]string{"zeroshot", "--model", "m", "--labels", "cat", "--template", "a photo", "x.png"}, "has no {} where the label goes"},
		{[]string{"zeroshot", "--model", "m", "--labels", "cat"}, "no images given"},
	} {
		code, _, errOut := runVit(strings.NewReader(""), c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) || crashed(errOut) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: exit %d, %q; want exit 2 and %q", c.args, code, errOut, c.want)
		}
	}
	// A folder that is not a CLIP or SigLIP model: one clear line, exit 1.
	code, _, errOut := runVit(strings.NewReader(""), "zeroshot", "--model", tinyModel(t, 3), "--labels", "cat", "x.png")
	if code != 1 || !strings.Contains(errOut, "model_type") || crashed(errOut) {
		t.Errorf("a vit model: exit %d, %q", code, errOut)
	}
}
