package main

import (
	"bufio"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitgo/vit/safetensors"
	"github.com/vitgo/vit/zeroshot"
)

// zeroshotFolder assembles a whole Hugging Face CLIPModel or SiglipModel
// folder (kind clip or siglip) from two generated test checkpoints: the
// text tower of text/testdata/KIND (with its tokenizer files) and the
// image tower of testdata/encoders/hf_KIND (with its image processor),
// each generated alone, the other half a stub. Their configs are merged.
// The two CLIP halves were generated with different projection widths (12
// for the text, 8 for the image), so CLIP's visual projection is replaced
// by a fixed random [12, 16] one; SigLIP's halves meet at width 16 as
// generated.
func zeroshotFolder(t *testing.T, kind string) string {
	t.Helper()
	dir := textModelDir(t, kind)
	readJSON := func(path string) map[string]any {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	textDir, imageDir := filepath.Join("..", "..", "text", "testdata", kind), filepath.Join(encoders, "hf_"+kind)
	cfg := readJSON(filepath.Join(textDir, "config.json"))
	vision := readJSON(filepath.Join(imageDir, "config.json"))["vision_config"].(map[string]any)
	if kind == "clip" {
		vision["projection_dim"] = cfg["projection_dim"]
	}
	cfg["vision_config"] = vision
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err = os.ReadFile(filepath.Join(imageDir, "preprocessor_config.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "preprocessor_config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}

	var tensors []safetensors.Tensor
	add := func(path string, keep func(string) bool) {
		f, err := safetensors.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, n := range f.Names() {
			if !keep(n) {
				continue
			}
			x, shape, err := f.Float32(n)
			if err != nil {
				t.Fatal(err)
			}
			tensors = append(tensors, safetensors.Tensor{Name: n, Shape: shape, Data: append([]float32(nil), x...)})
		}
	}
	imageHalf := func(n string) bool {
		return strings.HasPrefix(n, "vision_model.") || strings.HasPrefix(n, "visual_projection.")
	}
	add(filepath.Join(textDir, "model.safetensors"), func(n string) bool { return !imageHalf(n) })
	add(filepath.Join(imageDir, "model.safetensors"), func(n string) bool {
		return strings.HasPrefix(n, "vision_model.") || kind != "clip" && imageHalf(n)
	})
	if kind == "clip" {
		rng := rand.New(rand.NewPCG(12, 16))
		w := make([]float32, 12*16)
		for i := range w {
			w[i] = float32(rng.NormFloat64() * 0.25)
		}
		tensors = append(tensors, safetensors.Tensor{Name: "visual_projection.weight", Shape: []int{12, 16}, Data: w})
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), tensors, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestZeroshotEndToEnd runs vit zeroshot on whole CLIP and SigLIP folders
// (zeroshotFolder) with both towers loaded from the folder: the image
// tower by the checkpoint package's vision loaders, its embedding
// Config.FeatureDim wide. Each image's probabilities must be the model's
// formula over the embeddings vit embed writes for the images and for the
// prompts (each checked against the PyTorch reference by
// TestEncoderCommands and TestEmbedText): CLIP's softmax over
// exp(logit_scale)·cos, SigLIP's sigmoid(exp(logit_scale)·cos +
// logit_bias). SigLIP's image embedding, whose tower is the generated one
// unchanged, must also be the reference's.
func TestZeroshotEndToEnd(t *testing.T) {
	labels := []string{"cat", "dog", "car"}
	for _, kind := range []string{"clip", "siglip"} {
		t.Run(kind, func(t *testing.T) {
			dir := zeroshotFolder(t, kind)
			other := filepath.Join(t.TempDir(), "b.png")
			writeImage(t, other, 20, 12)
			images := []string{filepath.Join(encoders, "chelsea.png"), other}

			code, out, errOut := runVit(strings.NewReader(""), append([]string{"zeroshot", "--model", dir,
				"--labels", strings.Join(labels, ","), "--json", "--top", "3"}, images...)...)
			if code != 0 || crashed(errOut) {
				t.Fatalf("zeroshot: exit %d: %s", code, errOut)
			}

			// The image embeddings, through vit embed.
			emb := filepath.Join(t.TempDir(), "images.jsonl")
			if code, _, errOut := runVit(strings.NewReader(""), append([]string{"embed", "--model", dir, "--out", emb}, images...)...); code != 0 {
				t.Fatalf("embed: exit %d: %s", code, errOut)
			}
			b, err := os.ReadFile(emb)
			if err != nil {
				t.Fatal(err)
			}
			var imgs [][]float32
			for l := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
				var e struct{ Features []float32 }
				if err := json.Unmarshal([]byte(l), &e); err != nil {
					t.Fatal(err)
				}
				imgs = append(imgs, e.Features)
			}
			if len(imgs) != 2 || len(imgs[0]) != map[string]int{"clip": 12, "siglip": 16}[kind] {
				t.Fatalf("%d image embeddings of %d values", len(imgs), len(imgs[0]))
			}
			if kind == "siglip" {
				want := goldenTensor(t, "hf_siglip.photo.features")
				for i, w := range want {
					if math.Abs(float64(imgs[0][i]-w)) > 1e-4 {
						t.Fatalf("image embedding[%d] = %g, the reference %g", i, imgs[0][i], w)
					}
				}
			}

			// The prompts' embeddings, through vit embed --text.
			args := []string{"embed", "--model", dir}
			for _, l := range labels {
				args = append(args, "--text", zeroshot.Prompt(zeroshot.DefaultTemplate, l))
			}
			code, tout, errOut := runVit(strings.NewReader(""), args...)
			if code != 0 {
				t.Fatalf("embed --text: exit %d: %s", code, errOut)
			}
			var texts [][]float32
			sc := bufio.NewScanner(strings.NewReader(tout))
			for sc.Scan() {
				var e struct{ Features []float32 }
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					t.Fatal(err)
				}
				texts = append(texts, e.Features)
			}
			if len(texts) != len(labels) || len(texts[0]) != len(imgs[0]) {
				t.Fatalf("%d text embeddings of %d values for %d labels", len(texts), len(texts[0]), len(labels))
			}

			f, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			ls, _, err := f.Float32("logit_scale")
			if err != nil {
				t.Fatal(err)
			}
			scale, bias := math.Exp(float64(ls[0])), 0.0
			if kind == "siglip" {
				lb, _, err := f.Float32("logit_bias")
				if err != nil {
					t.Fatal(err)
				}
				bias = float64(lb[0])
			}
			f.Close()

			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != len(images) {
				t.Fatalf("%d lines for %d images:\n%s", len(lines), len(images), out)
			}
			for i, l := range lines {
				var r prediction
				if err := json.Unmarshal([]byte(l), &r); err != nil {
					t.Fatal(err)
				}
				if r.File != images[i] || len(r.Probs) != len(labels) || len(r.Top) != 3 {
					t.Fatalf("line %d: %s", i, l)
				}
				want := make([]float64, len(labels))
				var sum float64
				for j, e := range texts {
					want[j] = scale*cosine(imgs[i], e) + bias
					if kind == "clip" {
						want[j] = math.Exp(want[j])
						sum += want[j]
					} else {
						want[j] = 1 / (1 + math.Exp(-want[j]))
					}
				}
				for j := range want {
					if kind == "clip" {
						want[j] /= sum
					}
					if math.Abs(float64(r.Probs[j])-want[j]) > 1e-4 {
						t.Errorf("%s, label %s: probability %g, the formula over the embeddings gives %g", images[i], labels[j], r.Probs[j], want[j])
					}
				}
			}
		})
	}
}

// cosine is the cosine similarity of a and b.
func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}
