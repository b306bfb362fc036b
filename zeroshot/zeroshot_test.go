package zeroshot

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/vitgo/vit/text"
)

// TestGoldens checks the zero-shot probabilities of fixed image
// embeddings against the PyTorch reference of text/testdata/gen_goldens.py
// (softmax for CLIP, sigmoid with the bias for SigLIP), within 1e-4.
func TestGoldens(t *testing.T) {
	b, err := os.ReadFile("../text/testdata/goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	var g map[string]struct {
		Labels   []string
		Template string
		Images   [][]float32
		Probs    [][]float32
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ dir, tok string }{{"clip", "clip"}, {"siglip", "siglip"}} {
		t.Run(c.dir, func(t *testing.T) {
			m, err := text.Load(context.Background(), "../text/testdata/"+c.dir)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := text.LoadTokenizer("../tokenizer/testdata/"+c.tok, m.Config)
			if err != nil {
				t.Fatal(err)
			}
			gd := g[c.dir]
			cl, err := New(context.Background(), &text.Tower{Model: m, Tokenizer: tok}, gd.Labels, []string{gd.Template})
			if err != nil {
				t.Fatal(err)
			}
			var images []float32
			for _, im := range gd.Images {
				images = append(images, im...)
			}
			p, err := cl.Classify(images, len(gd.Images))
			if err != nil {
				t.Fatal(err)
			}
			for i, row := range gd.Probs {
				for j, want := range row {
					if got := p[i*len(row)+j]; math.Abs(float64(got-want)) > 1e-4 {
						t.Errorf("image %d, label %q: %v, reference %v", i, gd.Labels[j], got, want)
					}
				}
			}
		})
	}
}

func TestProbabilitiesShapes(t *testing.T) {
	if _, err := Probabilities(text.CLIP, make([]float32, 5), 1, make([]float32, 4), 1, 4, 1, 0); err == nil {
		t.Error("5 image values for one embedding of width 4: no error")
	}
	// A zero image vector gives uniform CLIP probabilities, not NaN.
	p, err := Probabilities(text.CLIP, make([]float32, 4), 1, []float32{1, 0, 0, 0, 0, 1, 0, 0}, 2, 4, 100, 0)
	if err != nil || p[0] != 0.5 || p[1] != 0.5 {
		t.Errorf("zero image: %v, %v", p, err)
	}
	if err := CheckTemplate("a photo"); err == nil || !strings.Contains(err.Error(), "{}") {
		t.Errorf("template without {}: %v", err)
	}
	if got := Prompt("a photo of a {}.", "cat"); got != "a photo of a cat." {
		t.Errorf("Prompt: %q", got)
	}
}

// TestEnsemble: with two templates a label's vector is the normalised
// mean of its two unit prompt embeddings.
func TestEnsemble(t *testing.T) {
	m, err := text.Load(context.Background(), "../text/testdata/clip")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := text.LoadTokenizer("../tokenizer/testdata/clip", m.Config)
	if err != nil {
		t.Fatal(err)
	}
	tower := &text.Tower{Model: m, Tokenizer: tok}
	labels, templates := []string{"cat", "dog"}, []string{"a photo of a {}.", "a drawing of the {}"}
	cl, err := New(context.Background(), tower, labels, templates)
	if err != nil {
		t.Fatal(err)
	}
	dim := cl.Dim()
	want := make([]float32, 2*dim)
	for _, tmpl := range templates {
		e, err := tower.EmbedTexts(context.Background(), []string{Prompt(tmpl, "cat"), Prompt(tmpl, "dog")})
		if err != nil {
			t.Fatal(err)
		}
		normalize(e, dim)
		for i, v := range e {
			want[i] += v / 2
		}
	}
	img := []float32{0.3, -1, 2, 0.5, 0, 1, -0.2, 0.7, 1.1, -0.4, 0.9, 0.1}
	got, err := cl.Classify(img, 1)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := Probabilities(text.CLIP, img, 1, want, 2, dim, m.Scale(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if math.Abs(float64(got[i]-exp[i])) > 1e-6 {
			t.Errorf("label %s: %v, want %v", labels[i], got[i], exp[i])
		}
	}
	if _, err := New(context.Background(), tower, labels, []string{"no placeholder"}); err == nil {
		t.Error("a template without {}: no error")
	}
	if _, err := New(context.Background(), tower, nil, nil); err == nil {
		t.Error("no labels: no error")
	}
	// A text model without logit_scale cannot give probabilities.
	lone, err := text.Load(context.Background(), "../text/testdata/clip_text")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), &text.Tower{Model: lone, Tokenizer: tok}, labels, nil); err == nil || !strings.Contains(err.Error(), "logit_scale") {
		t.Errorf("lone text model: %v", err)
	}
	// A tokenizer whose ids the model's vocabulary lacks is refused.
	sig, err := text.Load(context.Background(), "../text/testdata/siglip")
	if err != nil {
		t.Fatal(err)
	}
	sig.Kind = text.CLIP
	if _, err := text.LoadTokenizer("../tokenizer/testdata/clip", sig.Config); err == nil || !strings.Contains(err.Error(), "do not belong together") {
		t.Errorf("CLIP tokenizer for a 300-token vocabulary: %v", err)
	}
}
