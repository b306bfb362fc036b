package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/safetensors"
	"github.com/vitgo/vit/serve"
	"github.com/vitgo/vit/serve/web"
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
// 1e-4), predict names DeiT's labels and refuses the encoders without a
// classifier, attention draws rollouts over models with register tokens, a
// distillation token, or no class token (and no gradient rollout where
// there is no classifier).
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
			err = runCmd("predict", []string{"--model", model, "--json", "--top", "2", photo}, &so, &se)
			if name != "hf_deit" {
				// An encoder without a classifier: its zero head's one
				// class would be a silently meaningless prediction.
				if err == nil || !strings.Contains(err.Error(), "no classifier head") || so.Len() > 0 {
					t.Fatalf("predict on a headless encoder: err %v, output %q; want the no-head error and no output", err, so.String())
				}
			} else if err != nil {
				t.Fatalf("predict: %v\n%s", err, se.String())
			}
			var p prediction
			if name == "hf_deit" {
				if err := json.Unmarshal([]byte(strings.TrimSpace(so.String())), &p); err != nil {
					t.Fatal(err)
				}
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
			maps := []string{r.Rollout, r.GradientRollout}
			if name != "hf_deit" {
				// No classifier: no class to explain, so no gradient
				// rollout, and --class is refused.
				if r.GradientRollout != "" || r.Predicted != -1 {
					t.Errorf("attention of a headless encoder: %+v; want the rollout alone", r)
				}
				maps = maps[:1]
				err := runCmd("attention", []string{"--model", model, "--out", filepath.Join(dir, "att2"), "--class", "0", photo}, &so, &se)
				if err == nil || !strings.Contains(err.Error(), "no classifier head") {
					t.Errorf("attention --class on a headless encoder: %v", err)
				}
			}
			for _, png := range maps {
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

// TestServeEncoders serves the generated CLIP, SigLIP, DINOv2-with-registers
// and DeiT checkpoints as vit serve loads them: :embed answers the
// reference's embeddings of a photo (within 1e-4), :predict answers DeiT's
// labels in order of probability and refuses the encoders without a
// classifier (400), as v2 refuses their logits; the v2 metadata names the
// embedding's width, and the page's rollout route draws a PNG over models with register
// tokens, a distillation token or no class token.
func TestServeEncoders(t *testing.T) {
	photo, err := os.ReadFile(filepath.Join(encoders, "chelsea.png"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"hf_clip", "hf_siglip", "hf_dinov2_reg", "hf_deit"} {
		t.Run(name, func(t *testing.T) {
			m, err := loadModel(context.Background(), filepath.Join(encoders, name), "", 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := packWeights(m, "fp32", io.Discard); err != nil {
				t.Fatal(err)
			}
			s := serve.New(serve.Options{})
			defer s.Close()
			if err := s.Add("enc", m, 0); err != nil {
				t.Fatal(err)
			}
			s.SetReady(true)
			mux := s.Handler()
			web.Register(mux, s)
			srv := httptest.NewServer(mux)
			defer srv.Close()
			post := func(path string, into any) *http.Response {
				t.Helper()
				resp, err := http.Post(srv.URL+path, "image/png", bytes.NewReader(photo))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b, _ := io.ReadAll(resp.Body)
					t.Fatalf("POST %s: %s %s", path, resp.Status, b)
				}
				if into != nil {
					if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
						t.Fatalf("POST %s: %v", path, err)
					}
				} else if b, _ := io.ReadAll(resp.Body); !bytes.HasPrefix(b, []byte("\x89PNG")) {
					t.Fatalf("POST %s: not a PNG (%d bytes, %s)", path, len(b), resp.Header.Get("Content-Type"))
				}
				return resp
			}

			var er serve.EmbedResponse
			post("/v1/models/enc:embed", &er)
			want := goldenTensor(t, name+".photo.features")
			if len(er.Embeddings) != 1 || len(er.Embeddings[0].Features) != len(want) {
				t.Fatalf("served %d embeddings; want one of %d values", len(er.Embeddings), len(want))
			}
			for i, v := range er.Embeddings[0].Features {
				if math.Abs(float64(v-want[i])) > 1e-4 {
					t.Fatalf("served embedding[%d] = %g, the reference %g", i, v, want[i])
				}
			}

			headless := name != "hf_deit"
			if headless {
				// No classifier: :predict and v2 logits are refused, 400.
				resp, err := http.Post(srv.URL+"/v1/models/enc:predict", "image/png", bytes.NewReader(photo))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "no classifier head") {
					t.Errorf(":predict on a headless encoder: %s %s; want 400 naming the missing head", resp.Status, b)
				}
				req := `{"inputs":[{"name":"input","shape":[1,3,2,2],"datatype":"FP32","data":[0,0,0,0,0,0,0,0,0,0,0,0]}],"outputs":[{"name":"logits"}]}`
				resp, err = http.Post(srv.URL+"/v2/models/enc/infer", "application/json", strings.NewReader(req))
				if err != nil {
					t.Fatal(err)
				}
				b, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "no classifier head") {
					t.Errorf("v2 logits of a headless encoder: %s %s; want 400 naming the missing head", resp.Status, b)
				}
			} else {
				var pr serve.PredictResponse
				post("/v1/models/enc:predict?top=2", &pr)
				if len(pr.Predictions) != 1 || len(pr.Predictions[0].Top) != 2 || pr.Predictions[0].Top[0].Prob < pr.Predictions[0].Top[1].Prob {
					t.Fatalf("served predictions %+v", pr)
				}
			}

			resp, err := http.Get(srv.URL + "/v2/models/enc")
			if err != nil {
				t.Fatal(err)
			}
			var meta struct {
				Outputs []struct {
					Name  string
					Shape []int
				}
			}
			json.NewDecoder(resp.Body).Decode(&meta)
			resp.Body.Close()
			found, logits := false, false
			for _, o := range meta.Outputs {
				if o.Name == "embeddings" && len(o.Shape) == 2 && o.Shape[1] == len(want) {
					found = true
				}
				logits = logits || o.Name == "logits"
			}
			if !found || logits == headless {
				t.Errorf("v2 metadata outputs %+v: want embeddings of width %d, and logits only with a head", meta.Outputs, len(want))
			}

			post("/ui/models/enc/rollout", nil)
		})
	}
}
