package tokenizer

import (
	"os"
	"testing"
	"unicode/utf8"
)

// fuzzTexts seed the tokenizer fuzz targets.
var fuzzTexts = []string{"", "a photo of a cat.", "Café ❤️ 猫 ΟΔΟΣ İ", "<|endoftext|></s><unk>▁▁", "\x1c\xff\xfe", "&amp;&#0;&#x110000;"}

func FuzzParseSentencePiece(f *testing.F) {
	for _, p := range []string{"testdata/siglip/spiece.model", "testdata/bytefallback.model"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "a photo of a cat")
	}
	f.Add([]byte{0x0a, 0x09, 0x0a, 0x05, '<', 'u', 'n', 'k', '>', 0x18, 0x02}, "x")
	f.Fuzz(func(t *testing.T, b []byte, text string) {
		sp, err := ParseSentencePiece(b)
		if err != nil {
			return
		}
		toks := sp.Encode(text)
		// Each input byte normalises to at most maxReplacement bytes, a
		// space to ▁ (3 bytes), and byte fallback gives one token a byte.
		if len(toks) > 3*maxReplacement*len(text)+3 {
			t.Fatalf("%d tokens from %d bytes", len(toks), len(text))
		}
		for _, tok := range toks {
			if tok.ID < 0 || tok.ID >= sp.Len() {
				t.Fatalf("id %d of %d pieces", tok.ID, sp.Len())
			}
		}
		if s, err := NewSigLIP(sp, ""); err == nil {
			if ids := s.Tokenize(text); len(ids) != s.Length {
				t.Fatalf("%d ids, want %d", len(ids), s.Length)
			}
		}
	})
}

func FuzzNewCLIP(f *testing.F) {
	vocab, err := os.ReadFile("testdata/clip/vocab.json")
	if err != nil {
		f.Fatal(err)
	}
	merges, err := os.ReadFile("testdata/clip/merges.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(vocab, merges, "a photo of a cat")
	f.Add([]byte(`{"<|startoftext|>":0,"<|endoftext|>":1,"a</w>":2}`), []byte("#v\na b\n"), "aa b")
	f.Fuzz(func(t *testing.T, vocab, merges []byte, text string) {
		c, err := NewCLIP(vocab, merges)
		if err != nil {
			return
		}
		ids := c.Tokenize(text)
		if len(ids) != c.Context || ids[0] != c.Start {
			t.Fatalf("Tokenize gave %d ids starting %v", len(ids), ids[:1])
		}
		n := c.VocabSize()
		for _, id := range ids {
			if id < 0 || id >= n {
				t.Fatalf("id %d outside the vocabulary of %d", id, n)
			}
		}
	})
}

func FuzzCLIPTokenize(f *testing.F) {
	c, err := LoadCLIP("testdata/clip")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range fuzzTexts {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		ids := c.Tokenize(text)
		if len(ids) != CLIPContextLength || ids[0] != c.Start {
			t.Fatalf("%d ids", len(ids))
		}
		if utf8.ValidString(text) && len(c.Encode(text)) > 4*len(text)+4 {
			t.Fatalf("too many tokens")
		}
	})
}

func FuzzSigLIPTokenize(f *testing.F) {
	s, err := LoadSigLIP("testdata/siglip")
	if err != nil {
		f.Fatal(err)
	}
	for _, t := range fuzzTexts {
		f.Add(t)
	}
	f.Fuzz(func(t *testing.T, text string) {
		ids := s.Tokenize(text)
		if len(ids) != SigLIPLength {
			t.Fatalf("%d ids", len(ids))
		}
		for _, id := range ids {
			if id < 0 || id >= s.sp.Len() {
				t.Fatalf("id %d", id)
			}
		}
	})
}

func FuzzTokenizerConfig(f *testing.F) {
	f.Add([]byte(`{"pad_token": "<|endoftext|>", "model_max_length": 77, "do_lower_case": true}`))
	f.Add([]byte(`{"pad_token": {"content": "!"}, "model_max_length": 1e30}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseTokenizerConfig(b, "tokenizer_config.json")
		if err == nil && (c.MaxLength < 0 || c.MaxLength > 1<<20) {
			t.Fatalf("model_max_length %d", c.MaxLength)
		}
	})
}
