package tokenizer

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/vitgo/vit/internal/boundedread"
)

// CLIP file names in a Hugging Face folder.
const (
	VocabFile           = "vocab.json"
	MergesFile          = "merges.txt"
	TokenizerConfigFile = "tokenizer_config.json"
)

// CLIP's special tokens and context length.
const (
	CLIPStart         = "<|startoftext|>"
	CLIPEnd           = "<|endoftext|>"
	CLIPContextLength = 77
)

// clipMaxMerges is how many lines of merges.txt after its header CLIP
// uses: 49152 − 256 − 2 (simple_tokenizer.py and transformers'
// CLIPTokenizer both cut the file there).
const clipMaxMerges = 49152 - 256 - 2

// maxFileBytes bounds a tokenizer file (CLIP's vocab.json is 1.6 MB, its
// merges.txt 0.5 MB, SigLIP's spiece.model 0.8 MB, a tokenizer.json of a
// 256k vocabulary 35 MB).
const maxFileBytes = 64 << 20

// clipPattern splits cleaned, lower-cased text into words: the special
// tokens, English contractions, runs of letters, single digits, and runs
// of other non-space characters (simple_tokenizer.py's pattern, compiled
// with re.IGNORECASE).
var clipPattern = regexp.MustCompile(`(?i)<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\pL+|\pN|[^\s\pL\pN]+`)

// CLIP is CLIP's byte-level BPE tokenizer. It is safe for concurrent use.
//
// Text is prepared as simple_tokenizer.py's basic_clean and
// whitespace_clean do, with one change: of ftfy.fix_text only the final
// Unicode NFC normalisation is applied. Its other repairs (mojibake, curly
// quotes straightened, ligatures such as ﬁ and full-width forms expanded,
// control characters removed) are not, so such text is tokenised as given,
// as transformers' CLIPTokenizerFast tokenises it. Then HTML entities are
// unescaped twice, every run of whitespace becomes one space, the ends are
// trimmed and the text is lower-cased as Python's str.lower does.
type CLIP struct {
	vocab map[string]int
	ranks map[[2]string]int
	// Start, End and Pad are the ids of <|startoftext|>, <|endoftext|>
	// and the padding token (transformers pads with <|endoftext|> unless
	// tokenizer_config.json names another pad_token; OpenCLIP's
	// conversions use "!").
	Start, End, Pad int
	// Context is the number of ids Tokenize returns (77).
	Context int
}

// LoadCLIP reads vocab.json, merges.txt and, when present,
// tokenizer_config.json (for pad_token and model_max_length) from dir.
func LoadCLIP(dir string) (*CLIP, error) {
	vocab, err := readBounded(filepath.Join(dir, VocabFile))
	if err != nil {
		return nil, fmt.Errorf("CLIP tokenizer: %w", err)
	}
	merges, err := readBounded(filepath.Join(dir, MergesFile))
	if err != nil {
		return nil, fmt.Errorf("CLIP tokenizer: %w", err)
	}
	t, err := NewCLIP(vocab, merges)
	if err != nil {
		return nil, fmt.Errorf("CLIP tokenizer in %s: %w", dir, err)
	}
	cfg, err := readTokenizerConfig(dir)
	if err != nil {
		return nil, fmt.Errorf("CLIP tokenizer: %w", err)
	}
	if cfg.Pad != "" {
		id, ok := t.vocab[cfg.Pad]
		if !ok {
			return nil, fmt.Errorf("CLIP tokenizer: %s: pad_token %q is not in %s", TokenizerConfigFile, cfg.Pad, VocabFile)
		}
		t.Pad = id
	}
	if cfg.MaxLength >= 2 && cfg.MaxLength < CLIPContextLength {
		t.Context = cfg.MaxLength
	}
	return t, nil
}

// NewCLIP builds the tokenizer from the contents of vocab.json (a JSON
// object from token to id) and merges.txt (a header line, then one merge
// "a b" a line, in priority order).
func NewCLIP(vocabJSON, mergesTxt []byte) (*CLIP, error) {
	var vocab map[string]int
	if err := json.Unmarshal(vocabJSON, &vocab); err != nil {
		return nil, fmt.Errorf("%s: %w", VocabFile, err)
	}
	for tok, id := range vocab {
		if id < 0 || id > len(vocab)+1<<20 {
			return nil, fmt.Errorf("%s: token %q has id %d, outside 0…%d", VocabFile, tok, id, len(vocab)+1<<20)
		}
	}
	t := &CLIP{vocab: vocab, ranks: map[[2]string]int{}, Context: CLIPContextLength}
	for _, s := range []struct {
		name string
		id   *int
	}{{CLIPStart, &t.Start}, {CLIPEnd, &t.End}} {
		id, ok := vocab[s.name]
		if !ok {
			return nil, fmt.Errorf("%s has no %s token", VocabFile, s.name)
		}
		*s.id = id
	}
	t.Pad = t.End
	sc := bufio.NewScanner(bytes.NewReader(mergesTxt))
	sc.Buffer(nil, 1<<20)
	for line := -1; sc.Scan() && line < clipMaxMerges; line++ {
		if line < 0 { // the "#version: 0.2" header, skipped whatever it says
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			return nil, fmt.Errorf("%s line %d: %q is not a merge of two symbols", MergesFile, line+2, sc.Text())
		}
		if _, dup := t.ranks[[2]string{f[0], f[1]}]; !dup {
			t.ranks[[2]string{f[0], f[1]}] = line
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", MergesFile, err)
	}
	return t, nil
}

// VocabSize is one more than the largest id.
func (t *CLIP) VocabSize() int {
	n := 0
	for _, id := range t.vocab {
		n = max(n, id+1)
	}
	return n
}

// Clean prepares text as CLIP's tokenizer does before splitting it: NFC,
// HTML entities unescaped twice, whitespace collapsed and trimmed,
// lower-cased.
func (t *CLIP) Clean(text string) string {
	text = strings.ToValidUTF8(text, "\uFFFD")
	text = norm.NFC.String(text)
	text = html.UnescapeString(html.UnescapeString(text))
	return lowerString(collapse(text, unicode.IsSpace))
}

// Encode returns the ids of text's tokens, without the start and end
// tokens and without truncation. A token missing from the vocabulary
// (only possible with a vocabulary that lacks some bytes) takes
// <|endoftext|>'s id, as transformers' CLIPTokenizer does.
func (t *CLIP) Encode(text string) []int {
	return t.encode(text, -1)
}

// encode is Encode, stopping once it has limit ids (limit < 0: none).
func (t *CLIP) encode(text string, limit int) []int {
	var ids []int
	// Every word gives at least one token: limit words are enough.
	for _, w := range clipPattern.FindAllString(t.Clean(text), max(limit, -1)) {
		if limit >= 0 && len(ids) >= limit {
			break
		}
		if w == CLIPStart || w == CLIPEnd {
			ids = append(ids, t.vocab[w])
			continue
		}
		for _, tok := range t.bpe(byteLevel(w)) {
			id, ok := t.vocab[tok]
			if !ok {
				id = t.End
			}
			ids = append(ids, id)
		}
	}
	if limit >= 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	return ids
}

// Tokenize returns the model input of text: <|startoftext|>, the first
// Context−2 token ids, <|endoftext|>, then padding up to Context ids
// (transformers' CLIPTokenizer with padding="max_length",
// truncation=True; OpenAI's clip.tokenize(truncate=True) gives the same
// ids up to the padding).
func (t *CLIP) Tokenize(text string) []int {
	ids := make([]int, 0, t.Context)
	ids = append(ids, t.Start)
	ids = append(ids, t.encode(text, t.Context-2)...)
	ids = append(ids, t.End)
	for len(ids) < t.Context {
		ids = append(ids, t.Pad)
	}
	return ids
}

// byteLevel maps each byte of s to the printable character GPT-2's
// bytes_to_unicode gives it.
func byteLevel(s string) []string {
	out := make([]string, len(s))
	for i := range len(s) {
		out[i] = byteChars[s[i]]
	}
	return out
}

// byteChars is GPT-2's bytes_to_unicode: the printable bytes ! … ~, ¡ … ¬
// and ® … ÿ stand for themselves, the others for U+0100 onwards in order.
var byteChars = func() [256]string {
	var m [256]string
	n := 0
	for b := range 256 {
		if b >= '!' && b <= '~' || b >= 0xa1 && b <= 0xac || b >= 0xae {
			m[b] = string(rune(b))
		} else {
			m[b] = string(rune(256 + n))
			n++
		}
	}
	return m
}()

// bpe splits one word, given as its byte-level characters, into tokens:
// the last character carries the end-of-word mark </w>, then the adjacent
// pair of lowest merge rank is merged, leftmost first, until no adjacent
// pair has a rank. This is simple_tokenizer.py's bpe (which merges every
// occurrence of the best pair in one sweep: a merge never creates another
// pair of the same rank, so merging one at a time in order of rank, then
// position, gives the same tokens) in O(n log n) instead of O(n²).
func (t *CLIP) bpe(chars []string) []string {
	n := len(chars)
	if n == 0 {
		return nil
	}
	sym := make([]string, n)
	copy(sym, chars)
	sym[n-1] += "</w>"
	next := make([]int, n) // the next live symbol, n at the end
	prev := make([]int, n) // the previous live symbol, −1 at the start
	for i := range n {
		next[i], prev[i] = i+1, i-1
	}
	var h pairHeap
	push := func(i int) {
		if i < 0 || next[i] >= n {
			return
		}
		if r, ok := t.ranks[[2]string{sym[i], sym[next[i]]}]; ok {
			heap.Push(&h, pair{rank: r, pos: i, left: sym[i], right: sym[next[i]]})
		}
	}
	for i := range n - 1 {
		push(i)
	}
	for h.Len() > 0 {
		p := heap.Pop(&h).(pair)
		i := p.pos
		// Skip pairs that an earlier merge changed.
		if sym[i] == "" || next[i] >= n || sym[i] != p.left || sym[next[i]] != p.right {
			continue
		}
		j := next[i]
		sym[i] += sym[j]
		sym[j] = ""
		next[i] = next[j]
		if next[j] < n {
			prev[next[j]] = i
		}
		push(prev[i])
		push(i)
	}
	out := make([]string, 0, n)
	for i := 0; i < n; i = next[i] {
		out = append(out, sym[i])
	}
	return out
}

// pair is a candidate merge of the symbols at pos and the next one.
type pair struct {
	rank, pos   int
	left, right string
}

type pairHeap []pair

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	return h[i].rank < h[j].rank || h[i].rank == h[j].rank && h[i].pos < h[j].pos
}
func (h pairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)   { *h = append(*h, x.(pair)) }
func (h *pairHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// tokenizerConfig is the part of tokenizer_config.json the tokenizers read.
type tokenizerConfig struct {
	Pad       string
	MaxLength int
	LowerCase *bool
}

// readTokenizerConfig reads dir's tokenizer_config.json; a missing file
// gives the zero config.
func readTokenizerConfig(dir string) (tokenizerConfig, error) {
	path := filepath.Join(dir, TokenizerConfigFile)
	b, err := readBounded(path)
	if os.IsNotExist(err) {
		return tokenizerConfig{}, nil
	}
	if err != nil {
		return tokenizerConfig{}, err
	}
	return parseTokenizerConfig(b, path)
}

// parseTokenizerConfig decodes tokenizer_config.json, where a token is a
// string or an object {"content": string, …}.
func parseTokenizerConfig(b []byte, path string) (tokenizerConfig, error) {
	var raw struct {
		Pad       json.RawMessage `json:"pad_token"`
		MaxLength *float64        `json:"model_max_length"`
		LowerCase *bool           `json:"do_lower_case"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return tokenizerConfig{}, fmt.Errorf("%s: %w", path, err)
	}
	c := tokenizerConfig{LowerCase: raw.LowerCase}
	if len(raw.Pad) > 0 && string(raw.Pad) != "null" {
		var s string
		var obj struct {
			Content string `json:"content"`
		}
		if json.Unmarshal(raw.Pad, &s) == nil {
			c.Pad = s
		} else if json.Unmarshal(raw.Pad, &obj) == nil && obj.Content != "" {
			c.Pad = obj.Content
		} else {
			return tokenizerConfig{}, fmt.Errorf("%s: pad_token is %s, want a string or {\"content\": string}", path, raw.Pad)
		}
	}
	// model_max_length is a huge float (1e30) when unset.
	if raw.MaxLength != nil && *raw.MaxLength >= 1 && *raw.MaxLength <= 1<<20 {
		c.MaxLength = int(*raw.MaxLength)
	}
	return c, nil
}

// readBounded reads a tokenizer file of at most maxFileBytes.
func readBounded(path string) ([]byte, error) { return boundedread.File(path, maxFileBytes) }
