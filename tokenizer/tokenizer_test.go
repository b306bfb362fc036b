package tokenizer

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// goldens are the outputs of testdata/gen_goldens.py: references written
// from OpenAI's simple_tokenizer.py and transformers' SiglipTokenizer,
// the latter over the real SentencePiece library.
type goldens struct {
	Texts           []string
	CLIP            [][]int    `json:"clip"`
	SigLIP          [][]int    `json:"siglip"`
	SPM             [][][2]any `json:"spm"`
	SPMByteFallback [][][2]any `json:"spm_bytefallback"`
}

func readGoldens(t *testing.T) goldens {
	t.Helper()
	b, err := os.ReadFile("testdata/goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldens
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Texts) < 30 || len(g.CLIP) != len(g.Texts) || len(g.SigLIP) != len(g.Texts) || len(g.SPM) != len(g.Texts) {
		t.Fatalf("goldens: %d texts, %d CLIP, %d SigLIP, %d SentencePiece", len(g.Texts), len(g.CLIP), len(g.SigLIP), len(g.SPM))
	}
	return g
}

func TestCLIPGoldens(t *testing.T) {
	g := readGoldens(t)
	tok, err := LoadCLIP("testdata/clip")
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range g.Texts {
		if got := tok.Tokenize(text); !slices.Equal(got, g.CLIP[i]) {
			t.Errorf("CLIP %q:\n got %v\nwant %v", text, got, g.CLIP[i])
		}
	}
}

func TestSigLIPGoldens(t *testing.T) {
	g := readGoldens(t)
	tok, err := LoadSigLIP("testdata/siglip")
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range g.Texts {
		if got := tok.Tokenize(text); !slices.Equal(got, g.SigLIP[i]) {
			t.Errorf("SigLIP %q:\n got %v\nwant %v", text, got, g.SigLIP[i])
		}
	}
}

// TestSentencePieceGoldens compares the plain SentencePiece encoding (the
// model's own normaliser, dummy prefix on) with the library's, for an
// nmt_nfkc model and for one with byte fallback and a user-defined piece.
func TestSentencePieceGoldens(t *testing.T) {
	g := readGoldens(t)
	for _, c := range []struct {
		file string
		want [][][2]any
	}{{"testdata/siglip/spiece.model", g.SPM}, {"testdata/bytefallback.model", g.SPMByteFallback}} {
		b, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		sp, err := ParseSentencePiece(b)
		if err != nil {
			t.Fatal(err)
		}
		for i, text := range g.Texts {
			got := sp.Encode(text)
			var want []Token
			for _, p := range c.want[i] {
				want = append(want, Token{ID: int(p[0].(float64)), Text: p[1].(string)})
			}
			if !equalTokens(got, want, sp) {
				t.Errorf("%s %q:\n got %v\nwant %v", c.file, text, got, want)
			}
		}
	}
}

// equalTokens compares ids, and texts where the piece is the text (byte
// pieces name their byte as <0xXX>).
func equalTokens(got, want []Token, sp *SentencePiece) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].ID != want[i].ID {
			return false
		}
		if sp.pieces[got[i].ID].typ != pieceByte && got[i].Text != want[i].Text {
			return false
		}
	}
	return true
}
