package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/safetensors"
)

// encoders is the folder of the image-encoder goldens (testdata/encoders/gen.py).
var encoders = filepath.Join("..", "..", "testdata", "encoders")

// goldenTensor reads one tensor of the encoders' golden file.
func goldenTensor(t *testing.T, name string) []float32 {
	t.Helper()
	f, err := safetensors.Open(filepath.Join(encoders, "golden.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	x, _, err := f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestEncoderCommands runs vit predict, embed and attention on the
// generated Hugging Face CLIP, SigLIP, DINOv2-with-registers and DeiT
// checkpoints and a photo: embed writes the reference's embeddings (within
// 1e-4), predict names DeiT's labels, attention draws rollouts over models
// with register tokens, a distillation token, or no class token.
func TestEncoderCommands(t *testing.T) {
	photo := filepath.Join(encoders, "chelsea.png")
	for _, name := range []string{"hf_clip", "hf_siglip", "hf_dinov2_reg", "hf_deit"} {
		t.Run(name, func(t *testing.T) {
			model := filepath.Join(encoders, name)
			dir := t.TempDir()
			out := filepath.Join(dir, "feats.safetensors")
			var so, se strings.Builder
			if err := runCmd("embed", []string{"--model", model, "--out", out, photo}, &so, &se); err != nil {
				t.Fatalf("embed: %v\n%s", err, se.String())
			}
			f, err := safetensors.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			got, shape, err := f.Float32("features")
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			want := goldenTensor(t, name+".photo.features")
			if len(shape) != 2 || shape[0] != 1 || shape[1] != len(want) {
				t.Fatalf("features of shape %v, want [1 %d]", shape, len(want))
			}
			for i := range want {
				if math.Abs(float64(got[i]-want[i])) > 1e-4 {
					t.Fatalf("embedding[%d] = %g, the reference %g", i, got[i], want[i])
				}
			}

			so.Reset()
			if err := runCmd("predict", []string{"--model", model, "--json", "--top", "2", photo}, &so, &se); err != nil {
				t.Fatalf("predict: %v\n%s", err, se.String())
			}
			var p prediction
			if err := json.Unmarshal([]byte(strings.TrimSpace(so.String())), &p); err != nil {
				t.Fatal(err)
			}
			if name == "hf_deit" && (len(p.Top) != 2 || !strings.Contains("cat dog car tree boat", p.Top[0].Label) || p.Top[0].Prob < p.Top[1].Prob) {
				t.Errorf("DeiT prediction %+v", p)
			}

			so.Reset()
			if err := runCmd("attention", []string{"--model", model, "--out", filepath.Join(dir, "att"), "--json", photo}, &so, &se); err != nil {
				t.Fatalf("attention: %v\n%s", err, se.String())
			}
			var r attentionResult
			if err := json.Unmarshal([]byte(strings.TrimSpace(so.String())), &r); err != nil {
				t.Fatal(err)
			}
			for _, png := range []string{r.Rollout, r.GradientRollout} {
				if _, err := os.Stat(png); err != nil {
					t.Errorf("attention map: %v", err)
				}
			}
		})
	}
}

// TestEncoderFinetune fine-tunes the generated DINOv2-with-registers,
// SigLIP and DeiT checkpoints on a small RGB image folder (a new head, every
// module trained), checks that the saved run keeps the encoder's modules and
// learned, and runs fewshot and report on it.
func TestEncoderFinetune(t *testing.T) {
	data := t.TempDir()
	for _, class := range []string{"a", "b"} {
		os.MkdirAll(filepath.Join(data, class), 0o755)
		for i := range 6 {
			w := 20 + i
			if class == "b" {
				w = 40 + i
			}
			writeImage(t, filepath.Join(data, class, strings.Repeat("x", i+1)+".png"), w, 20)
		}
	}
	for _, name := range []string{"hf_dinov2_reg", "hf_siglip", "hf_deit"} {
		t.Run(name, func(t *testing.T) {
			model := filepath.Join(encoders, name)
			out := filepath.Join(t.TempDir(), "ft")
			var so, se strings.Builder
			if err := runCmd("finetune", []string{"--model", model, "--data", data, "--steps", "2", "--batch", "4", "--out", out}, &so, &se); err != nil {
				t.Fatalf("finetune: %v\n%s", err, se.String())
			}
			base, err := checkpoint.Load(model)
			if err != nil {
				t.Fatal(err)
			}
			ft, err := checkpoint.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			if ft.Config.Encoder != base.Config.Encoder || ft.Config.Classes != 2 {
				t.Fatalf("fine-tuned config %+v, want the encoder of %+v with 2 classes", ft.Config.Encoder, base.Config.Encoder)
			}
			if ft.Blocks[0].FC1.W.Data[0] == base.Blocks[0].FC1.W.Data[0] {
				t.Error("fine-tuning left the blocks unchanged")
			}
			so.Reset()
			if err := runCmd("fewshot", []string{"--model", out, "--data", data, "--shots", "1", "--trials", "1"}, &so, &se); err != nil {
				t.Fatalf("fewshot: %v\n%s", err, se.String())
			}
			if err := runCmd("report", []string{"--model", out, "--data", data, "--images", "2", "--rollouts", "1", "--out", filepath.Join(t.TempDir(), "r")}, &so, &se); err != nil {
				t.Fatalf("report: %v\n%s", err, se.String())
			}
		})
	}
}
