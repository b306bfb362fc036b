package tokenizer

import (
	"fmt"
	"path/filepath"
	"strings"
)

// SigLIP file names and defaults.
const (
	SentencePieceFile = "spiece.model"
	SigLIPLength      = 64
)

// siglipPunctuation is Python's string.punctuation, which SigLIP's
// canonicalize_text removes.
const siglipPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

// SigLIP is SigLIP's tokenizer: a SentencePiece unigram model wrapped as
// transformers' SiglipTokenizer wraps it (the one SiglipProcessor uses,
// with padding="max_length" as SigLIP was trained). Encode:
//
//  1. prefixes ▁ (and turns any ▁ in the text into a space);
//  2. lower-cases one character at a time (Python's str.lower per
//     character, so Σ is always σ), sparing the special tokens;
//  3. splits at the special tokens (</s>, <unk> and the pad token),
//     trimming the whitespace beside them, which stand for their ids;
//  4. in each other piece removes ASCII punctuation, collapses whitespace
//     and trims it, then encodes "<unk>"+piece with SentencePiece, the
//     dummy prefix off, and drops the tokens of "<unk>".
//
// It is safe for concurrent use.
type SigLIP struct {
	sp *SentencePiece
	// EOS and Pad are the ids appended and padded with (</s>, and the
	// pad_token of tokenizer_config.json, </s> by default).
	EOS, Pad int
	// Length is the number of ids Tokenize returns (64).
	Length int
	// LowerCase is do_lower_case (true by default).
	LowerCase bool

	special []string // the special tokens, in the order transformers lists them
	unkLen  int      // how many tokens SentencePiece makes of "<unk>"
}

// LoadSigLIP reads spiece.model and, when present, tokenizer_config.json
// (pad_token, model_max_length, do_lower_case) from dir.
func LoadSigLIP(dir string) (*SigLIP, error) {
	b, err := readBounded(filepath.Join(dir, SentencePieceFile))
	if err != nil {
		return nil, fmt.Errorf("SigLIP tokenizer: %w", err)
	}
	sp, err := ParseSentencePiece(b)
	if err != nil {
		return nil, fmt.Errorf("SigLIP tokenizer: %s: %w", filepath.Join(dir, SentencePieceFile), err)
	}
	cfg, err := readTokenizerConfig(dir)
	if err != nil {
		return nil, fmt.Errorf("SigLIP tokenizer: %w", err)
	}
	t, err := NewSigLIP(sp, cfg.Pad)
	if err != nil {
		return nil, fmt.Errorf("SigLIP tokenizer in %s: %w", dir, err)
	}
	if cfg.MaxLength >= 2 {
		t.Length = cfg.MaxLength
	}
	if cfg.LowerCase != nil {
		t.LowerCase = *cfg.LowerCase
	}
	return t, nil
}

// NewSigLIP wraps a SentencePiece model (whose dummy prefix it turns
// off, as SiglipTokenizer does) with pad token pad ("" for </s>).
func NewSigLIP(sp *SentencePiece, pad string) (*SigLIP, error) {
	c := *sp
	c.AddDummyPrefix = false
	const eos, unk = "</s>", "<unk>"
	if pad == "" {
		pad = eos
	}
	t := &SigLIP{sp: &c, Length: SigLIPLength, LowerCase: true, special: []string{eos, unk}}
	if pad != eos && pad != unk {
		t.special = append(t.special, pad)
	}
	for _, s := range []struct {
		name string
		id   *int
	}{{eos, &t.EOS}, {pad, &t.Pad}} {
		id, ok := c.byID[s.name]
		if !ok {
			return nil, fmt.Errorf("the SentencePiece model has no %s piece", s.name)
		}
		*s.id = id
	}
	if _, ok := c.byID[unk]; !ok {
		return nil, fmt.Errorf("the SentencePiece model has no %s piece", unk)
	}
	t.unkLen = len(c.Encode(unk))
	return t, nil
}

// Encode returns the ids of text's tokens, without </s> or padding.
func (t *SigLIP) Encode(text string) []int {
	return t.encode(text)
}

// Tokenize returns the model input of text: its first Length−1 token ids,
// </s> (unless the last of them already is </s>), then padding up to
// Length ids.
func (t *SigLIP) Tokenize(text string) []int {
	ids := t.encode(text)
	if len(ids) > t.Length-1 {
		ids = ids[:t.Length-1]
	}
	if len(ids) == 0 || ids[len(ids)-1] != t.EOS {
		ids = append(ids, t.EOS)
	}
	for len(ids) < t.Length {
		ids = append(ids, t.Pad)
	}
	return ids
}

func (t *SigLIP) encode(text string) []int {
	text = spaceSymbol + strings.ReplaceAll(strings.ToValidUTF8(text, "\uFFFD"), spaceSymbol, " ")
	if t.LowerCase {
		text = t.lower(text)
	}
	// Split at the special tokens; whitespace beside them is trimmed.
	type chunk struct {
		s       string
		special bool
	}
	var chunks []chunk
	start := 0
	for i := 0; i < len(text); {
		sp := t.specialAt(text[i:])
		if sp == "" {
			i++
			continue
		}
		chunks = append(chunks, chunk{s: text[start:i]}, chunk{s: sp, special: true})
		i += len(sp)
		start = i
	}
	chunks = append(chunks, chunk{s: text[start:]})
	for i, c := range chunks {
		if !c.special {
			continue
		}
		if i+1 < len(chunks) && !chunks[i+1].special {
			chunks[i+1].s = strings.TrimLeftFunc(chunks[i+1].s, isSpace)
		}
		if i > 0 && !chunks[i-1].special {
			chunks[i-1].s = strings.TrimRightFunc(chunks[i-1].s, isSpace)
		}
	}
	var ids []int
	var texts []string // each token's text, to apply SiglipTokenizer.tokenize's last rule
	for _, c := range chunks {
		switch {
		case c.s == "":
		case c.special:
			ids = append(ids, t.sp.PieceID(c.s))
			texts = append(texts, c.s)
		default:
			toks := t.sp.Encode("<unk>" + canonicalize(c.s))
			if len(toks) >= t.unkLen {
				toks = toks[t.unkLen:]
			}
			for _, tok := range toks {
				id := tok.ID
				if id == t.sp.unk { // transformers looks the surface up again
					id = t.sp.PieceID(tok.Text)
				}
				ids = append(ids, id)
				texts = append(texts, tok.Text)
			}
		}
	}
	if len(ids) > 1 && texts[0] == spaceSymbol && t.isSpecial(texts[1]) {
		ids = ids[1:]
	}
	return ids
}

// specialAt returns the special token s starts with, or "".
func (t *SigLIP) specialAt(s string) string {
	best := ""
	for _, sp := range t.special {
		if strings.HasPrefix(s, sp) && len(sp) > len(best) {
			best = sp
		}
	}
	return best
}

func (t *SigLIP) isSpecial(s string) bool {
	for _, sp := range t.special {
		if s == sp {
			return true
		}
	}
	return false
}

// lower lower-cases text one character at a time, copying special tokens
// as they are (transformers' do_lower_case).
func (t *SigLIP) lower(text string) string {
	var b strings.Builder
	b.Grow(len(text))
	for i := 0; i < len(text); {
		for _, sp := range t.special {
			if strings.HasPrefix(text[i:], sp) {
				b.WriteString(sp)
				i += len(sp)
				goto next
			}
		}
		{
			r, n := decodeRune(text[i:])
			lowerRune(&b, r)
			i += n
		}
	next:
	}
	return b.String()
}

// canonicalize is SiglipTokenizer.canonicalize_text: ASCII punctuation
// removed, whitespace collapsed and trimmed.
func canonicalize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x80 && strings.ContainsRune(siglipPunctuation, r) {
			return -1
		}
		return r
	}, s)
	return collapseSpace(s)
}
