package text

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/vitgo/vit/tokenizer"
)

// golden is one model's entry of testdata/goldens.json, written by
// testdata/gen_goldens.py from a PyTorch reference of transformers'
// text towers.
type golden struct {
	Texts      []string
	IDs        [][]int
	Embeddings [][]float32
	Labels     []string
	Template   string
	LabelIDs   [][]int `json:"label_ids"`
	Images     [][]float32
	Probs      [][]float32
}

func readGoldens(t *testing.T) map[string]golden {
	t.Helper()
	b, err := os.ReadFile("testdata/goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	var g map[string]golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGoldens loads each checkpoint (transformers' layouts, and OpenCLIP's), tokenises the texts with package
// tokenizer (ids equal to the reference's) and compares the embeddings
// with the PyTorch reference's, within 1e-4.
func TestGoldens(t *testing.T) {
	g := readGoldens(t)
	for _, c := range []struct {
		dir, golden string
		kind        Kind
		out         int
		act         string
	}{
		{"clip", "clip", CLIP, 12, ActQuickGELU},
		{"clip_text", "clip_text", CLIP, 10, ActGELU},
		{"siglip", "siglip", SigLIP, 16, ActGELUTanh},
		{"openclip", "clip", CLIP, 12, ActQuickGELU}, // clip's tower in OpenCLIP's layout
	} {
		t.Run(c.dir, func(t *testing.T) {
			m, err := Load(context.Background(), "testdata/"+c.dir)
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind != c.kind || m.OutDim() != c.out || m.Act != c.act || m.HasLogits != (c.dir != "clip_text") {
				t.Fatalf("loaded %+v, want kind %v, output %d, %s", m.Config, c.kind, c.out, c.act)
			}
			tok := testTokenizer(t, c.kind)
			gd := g[c.golden]
			var ids [][]int
			for i, text := range gd.Texts {
				id := tok.Tokenize(text)
				if !slices.Equal(id, gd.IDs[i]) {
					t.Fatalf("%q: ids %v, reference %v", text, id, gd.IDs[i])
				}
				ids = append(ids, id)
			}
			got, err := m.Embed(context.Background(), ids)
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for i, want := range gd.Embeddings {
				for j, w := range want {
					d := math.Abs(float64(got[i*c.out+j] - w))
					if d > 1e-4 {
						t.Fatalf("%q: embedding[%d] = %v, reference %v", gd.Texts[i], j, got[i*c.out+j], w)
					}
					worst = max(worst, d)
				}
			}
			t.Logf("largest difference from the reference: %.2g", worst)
		})
	}
}

func testTokenizer(t *testing.T, k Kind) interface{ Tokenize(string) []int } {
	t.Helper()
	var tok interface{ Tokenize(string) []int }
	var err error
	if k == CLIP {
		tok, err = tokenizer.LoadCLIP("../tokenizer/testdata/clip")
	} else {
		tok, err = tokenizer.LoadSigLIP("../tokenizer/testdata/siglip")
	}
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
