package text

import (
	"context"
	"fmt"

	"github.com/vitgo/vit/tokenizer"
)

// Tokenizer turns a text into a text tower's input ids (of one fixed
// length for every text).
type Tokenizer interface {
	Tokenize(text string) []int
}

// Tower is a text tower with its tokenizer.
type Tower struct {
	*Model
	Tokenizer Tokenizer
}

// LoadTower loads the text tower of the Hugging Face model in dir (Load)
// and its tokenizer from the same folder: vocab.json and merges.txt for
// CLIP, spiece.model for SigLIP (with tokenizer_config.json when present).
// The tokenizer's context is cut to the model's position embeddings.
func LoadTower(ctx context.Context, dir string) (*Tower, error) {
	m, err := Load(ctx, dir)
	if err != nil {
		return nil, err
	}
	tok, err := LoadTokenizer(dir, m.Config)
	if err != nil {
		return nil, err
	}
	return &Tower{Model: m, Tokenizer: tok}, nil
}

// LoadTokenizer reads the tokenizer of a tower of config c from dir.
func LoadTokenizer(dir string, c Config) (Tokenizer, error) {
	if c.Kind == SigLIP {
		t, err := tokenizer.LoadSigLIP(dir)
		if err != nil {
			return nil, err
		}
		t.Length = min(t.Length, c.Positions)
		return t, checkVocab(t.EOS, t.Pad, c)
	}
	t, err := tokenizer.LoadCLIP(dir)
	if err != nil {
		return nil, err
	}
	t.Context = min(t.Context, c.Positions)
	if t.Context < 2 {
		return nil, fmt.Errorf("CLIP tokenizer: a context of %d tokens has no room for the text", t.Context)
	}
	return t, checkVocab(max(t.Start, t.End, t.Pad, t.VocabSize()-1), 0, c)
}

// checkVocab refuses a tokenizer whose ids reach beyond the model's
// token embedding.
func checkVocab(a, b int, c Config) error {
	if n := max(a, b); n >= c.Vocab {
		return fmt.Errorf("the tokenizer has id %d, the model's vocabulary only %d: they do not belong together", n, c.Vocab)
	}
	return nil
}

// EmbedTexts tokenises texts and returns their vectors, [len(texts),
// OutDim()], not normalised.
func (t *Tower) EmbedTexts(ctx context.Context, texts []string) ([]float32, error) {
	ids := make([][]int, len(texts))
	for i, s := range texts {
		ids[i] = t.Tokenizer.Tokenize(s)
	}
	return t.Embed(ctx, ids)
}
