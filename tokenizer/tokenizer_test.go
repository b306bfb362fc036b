package tokenizer

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
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

// TestCLIPConfig: tokenizer_config.json's pad_token (an AddedToken object
// here, as OpenCLIP's conversions write "!") and model_max_length are
// honoured; truncation keeps <|endoftext|> last.
func TestCLIPConfig(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{VocabFile, MergesFile} {
		b, err := os.ReadFile("testdata/clip/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir+"/"+f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := `{"pad_token": {"content": "!", "lstrip": false}, "model_max_length": 6}`
	if err := os.WriteFile(dir+"/"+TokenizerConfigFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := LoadCLIP(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Pad != tok.vocab["!"] || tok.Context != 6 {
		t.Fatalf("pad %d (want %d), context %d (want 6)", tok.Pad, tok.vocab["!"], tok.Context)
	}
	long := tok.Tokenize("a photo of a very fluffy cat")
	enc := tok.Encode("a photo of a very fluffy cat")
	if want := append(append([]int{tok.Start}, enc[:4]...), tok.End); !slices.Equal(long, want) {
		t.Errorf("truncated: %v, want %v", long, want)
	}
	if short := tok.Tokenize("a"); !slices.Equal(short[3:], []int{tok.Pad, tok.Pad, tok.Pad}) || short[2] != tok.End {
		t.Errorf("padded: %v", short)
	}
	if err := os.WriteFile(dir+"/"+TokenizerConfigFile, []byte(`{"pad_token": "<nope>"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCLIP(dir); err == nil || !strings.Contains(err.Error(), `pad_token "<nope>" is not in vocab.json`) {
		t.Errorf("unknown pad token: %v", err)
	}
}

// TestBadTokenizerFiles: broken files are refused with an error naming
// what is wrong.
func TestBadTokenizerFiles(t *testing.T) {
	vocab, _ := os.ReadFile("testdata/clip/vocab.json")
	for _, c := range []struct {
		vocab, merges, want string
	}{
		{`{"a": 1}`, "#v\n", "has no <|startoftext|> token"},
		{`{"<|startoftext|>": -1, "<|endoftext|>": 2}`, "#v\n", "has id -1"},
		{`[`, "#v\n", "vocab.json"},
		{string(vocab), "#v\na b c\n", `line 2: "a b c" is not a merge of two symbols`},
	} {
		if _, err := NewCLIP([]byte(c.vocab), []byte(c.merges)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("vocab %.30q, merges %q: %v, want %q", c.vocab, c.merges, err, c.want)
		}
	}
	model, _ := os.ReadFile("testdata/siglip/spiece.model")
	for _, c := range []struct {
		b    []byte
		want string
	}{
		{model[:len(model)/2], "truncated"},
		{[]byte{0x0a, 0x03, 0x0a, 0x01, 'a'}, "no unknown piece"},
		{[]byte{0x12, 0x02, 0x18, 0x02, 0x0a, 0x09, 0x0a, 0x05, '<', 'u', 'n', 'k', '>', 0x18, 0x02}, "model type 2 is not supported"},
		// A character map whose one replacement string is 100 bytes would let
		// each character of a text grow a hundredfold.
		{longReplacement, "replacement string over 64 bytes"},
	} {
		if _, err := ParseSentencePiece(c.b); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%d bytes: %v, want %q", len(c.b), err, c.want)
		}
	}
}

// longReplacement is a SentencePiece model whose precompiled character map
// (a one-unit trie) has a 100-byte replacement string.
var longReplacement = func() []byte {
	charsMap := append([]byte{4, 0, 0, 0, 0, 0, 0, 0}, []byte(strings.Repeat("a", 100)+"\x00")...)
	spec := append([]byte{0x12, byte(len(charsMap))}, charsMap...)
	b := []byte{0x0a, 0x09, 0x0a, 0x05, '<', 'u', 'n', 'k', '>', 0x18, 0x02, 0x1a, byte(len(spec))}
	return append(b, spec...)
}()
