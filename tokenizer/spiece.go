package tokenizer

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// SentencePiece piece types (ModelProto.SentencePiece.Type).
const (
	pieceNormal      = 1
	pieceUnknown     = 2
	pieceControl     = 3
	pieceUserDefined = 4
	pieceUnused      = 5
	pieceByte        = 6
)

// spaceSymbol is SentencePiece's visible space, U+2581 "▁".
const spaceSymbol = "\u2581"

// maxReplacement bounds each replacement string of a precompiled
// character map, and so how far the normaliser can grow a text: NFKC's
// longest, U+FDFA, is 33 bytes.
const maxReplacement = 64

// maxPieces bounds the vocabulary of a SentencePiece model (the largest
// real ones have 256k pieces).
const maxPieces = 1 << 22

// SentencePiece is a SentencePiece unigram model read from a .model file
// (a serialised ModelProto). Encode reproduces SentencePieceProcessor's
// Encode: the normaliser of the model's NormalizerSpec (its precompiled
// character map, e.g. nmt_nfkc; whitespace trimmed and collapsed; spaces
// shown as ▁; the dummy ▁ prefix), then the Viterbi segmentation over the
// piece scores, runs of unknown pieces merged into one, or decomposed into
// byte pieces when the model has byte fallback. It is safe for concurrent
// use.
type SentencePiece struct {
	pieces []spPiece
	normal *trieNode // NORMAL, USER_DEFINED and UNUSED pieces, for the segmentation
	byID   map[string]int
	user   *trieNode // USER_DEFINED pieces, which the normaliser passes through
	bytes  [256]int  // the ids of the byte pieces <0x00> … <0xFF>, or −1

	unk                int
	byteFallback       bool
	minScore, maxScore float32

	charsMap []uint32 // the double-array trie of the precompiled character map
	replace  []byte   // its NUL-terminated replacement strings

	// The NormalizerSpec's switches.
	AddDummyPrefix, RemoveExtraWhitespaces, EscapeWhitespaces bool
}

type spPiece struct {
	piece string
	score float32
	typ   int
}

// ParseSentencePiece decodes a SentencePiece model (the bytes of
// spiece.model). Only unigram models are accepted.
func ParseSentencePiece(b []byte) (*SentencePiece, error) {
	m := &SentencePiece{
		byID: map[string]int{}, unk: -1, normal: &trieNode{}, user: &trieNode{},
		AddDummyPrefix: true, RemoveExtraWhitespaces: true, EscapeWhitespaces: true,
	}
	for i := range m.bytes {
		m.bytes[i] = -1
	}
	modelType := 1
	var asSuffix bool
	err := pbFields(b, func(f pbField) error {
		switch {
		case f.num == 1 && f.wire == wireBytes:
			if len(m.pieces) >= maxPieces {
				return fmt.Errorf("over %d pieces", maxPieces)
			}
			p, err := parsePiece(f.bytes)
			if err != nil {
				return fmt.Errorf("piece %d: %w", len(m.pieces), err)
			}
			m.pieces = append(m.pieces, p)
		case f.num == 2 && f.wire == wireBytes: // TrainerSpec
			return pbFields(f.bytes, func(f pbField) error {
				switch {
				case f.num == 3 && f.wire == wireVarint:
					modelType = int(min(f.u, math.MaxInt32))
				case f.num == 24 && f.wire == wireVarint:
					asSuffix = f.u != 0
				case f.num == 35 && f.wire == wireVarint:
					m.byteFallback = f.u != 0
				}
				return nil
			})
		case f.num == 3 && f.wire == wireBytes: // NormalizerSpec
			return pbFields(f.bytes, func(f pbField) error {
				switch {
				case f.num == 2 && f.wire == wireBytes:
					return m.setCharsMap(f.bytes)
				case f.num == 3 && f.wire == wireVarint:
					m.AddDummyPrefix = f.u != 0
				case f.num == 4 && f.wire == wireVarint:
					m.RemoveExtraWhitespaces = f.u != 0
				case f.num == 5 && f.wire == wireVarint:
					m.EscapeWhitespaces = f.u != 0
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("SentencePiece model: %w", err)
	}
	if modelType != 1 {
		return nil, fmt.Errorf("SentencePiece model: model type %d is not supported (only unigram, 1)", modelType)
	}
	if asSuffix {
		return nil, fmt.Errorf("SentencePiece model: treat_whitespace_as_suffix is not supported")
	}
	first := true
	for i, p := range m.pieces {
		if p.piece == "" {
			return nil, fmt.Errorf("SentencePiece model: piece %d is empty", i)
		}
		if _, dup := m.byID[p.piece]; dup {
			return nil, fmt.Errorf("SentencePiece model: piece %q is defined twice", p.piece)
		}
		m.byID[p.piece] = i
		switch p.typ {
		case pieceNormal, pieceUserDefined, pieceUnused:
			m.normal.insert(p.piece, i)
			if p.typ == pieceUserDefined {
				m.user.insert(p.piece, i)
			}
			if p.typ == pieceNormal {
				if first {
					m.minScore, m.maxScore, first = p.score, p.score, false
				}
				m.minScore, m.maxScore = min(m.minScore, p.score), max(m.maxScore, p.score)
			}
		case pieceUnknown:
			if m.unk >= 0 {
				return nil, fmt.Errorf("SentencePiece model: two unknown pieces, %d and %d", m.unk, i)
			}
			m.unk = i
		case pieceByte:
			if !m.byteFallback {
				return nil, fmt.Errorf("SentencePiece model: byte piece %q without byte_fallback", p.piece)
			}
			var v int
			if _, err := fmt.Sscanf(p.piece, "<0x%02X>", &v); err != nil || len(p.piece) != 6 {
				return nil, fmt.Errorf("SentencePiece model: byte piece %q is not <0xXX>", p.piece)
			}
			m.bytes[v] = i
		case pieceControl:
		default:
			return nil, fmt.Errorf("SentencePiece model: piece %q has unknown type %d", p.piece, p.typ)
		}
	}
	if m.unk < 0 {
		return nil, fmt.Errorf("SentencePiece model: no unknown piece")
	}
	return m, nil
}

func parsePiece(b []byte) (spPiece, error) {
	p := spPiece{typ: pieceNormal}
	err := pbFields(b, func(f pbField) error {
		switch {
		case f.num == 1 && f.wire == wireBytes:
			if !utf8.Valid(f.bytes) {
				return fmt.Errorf("piece is not UTF-8")
			}
			p.piece = string(f.bytes)
		case f.num == 2 && f.wire == wireFixed32:
			p.score = math.Float32frombits(uint32(f.u))
			if math.IsNaN(float64(p.score)) {
				return fmt.Errorf("piece %q has score NaN", p.piece)
			}
		case f.num == 3 && f.wire == wireVarint:
			p.typ = int(min(f.u, 1<<8))
		}
		return nil
	})
	return p, err
}

// setCharsMap splits a precompiled character map: a little-endian uint32
// byte length of the double-array trie, the trie, then the replacement
// strings.
func (m *SentencePiece) setCharsMap(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if len(b) <= 4 {
		return fmt.Errorf("precompiled_charsmap of %d bytes", len(b))
	}
	n := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24
	if n >= uint64(len(b)-4) || n%4 != 0 {
		return fmt.Errorf("precompiled_charsmap: trie of %d bytes in %d", n, len(b)-4)
	}
	m.charsMap = make([]uint32, n/4)
	for i := range m.charsMap {
		o := 4 + 4*i
		m.charsMap[i] = uint32(b[o]) | uint32(b[o+1])<<8 | uint32(b[o+2])<<16 | uint32(b[o+3])<<24
	}
	m.replace = slices.Clone(b[4+n:])
	run := 0
	for _, c := range m.replace {
		if run++; c == 0 {
			run = 0
		} else if run > maxReplacement {
			return fmt.Errorf("precompiled_charsmap: a replacement string over %d bytes (NFKC's longest is 33)", maxReplacement)
		}
	}
	return nil
}

// Len is the number of pieces.
func (m *SentencePiece) Len() int { return len(m.pieces) }

// PieceID returns the id of a piece, or the unknown piece's id.
func (m *SentencePiece) PieceID(piece string) int {
	if id, ok := m.byID[piece]; ok {
		return id
	}
	return m.unk
}

// Piece returns the piece of an id ("" when out of range).
func (m *SentencePiece) Piece(id int) string {
	if id < 0 || id >= len(m.pieces) {
		return ""
	}
	return m.pieces[id].piece
}

// Token is one piece of an encoding: its id and the (normalised) text it
// covers; a run of unknown characters is one token.
type Token struct {
	ID   int
	Text string
}

// Encode segments text into pieces as SentencePieceProcessor.Encode does.
func (m *SentencePiece) Encode(text string) []Token {
	return m.encodeNormalized(m.Normalize(text))
}

// Normalize applies the model's normaliser to text, as SentencePiece's
// Normalizer::Normalize does.
func (m *SentencePiece) Normalize(text string) string {
	var out strings.Builder
	out.Grow(len(text) + len(text)/2)
	if m.RemoveExtraWhitespaces {
		for text != "" {
			rep, n := m.normalizePrefix(text)
			if rep != " " {
				break
			}
			text = text[n:]
		}
	}
	if text == "" {
		return ""
	}
	if m.AddDummyPrefix {
		m.writeNormalized(&out, " ")
	}
	prevSpace := m.RemoveExtraWhitespaces
	for text != "" {
		rep, n := m.normalizePrefix(text)
		text = text[n:]
		if prevSpace {
			rep = strings.TrimLeft(rep, " ")
		}
		if rep != "" {
			m.writeNormalized(&out, rep)
			prevSpace = strings.HasSuffix(rep, " ")
		}
		if !m.RemoveExtraWhitespaces {
			prevSpace = false
		}
	}
	s := out.String()
	if m.RemoveExtraWhitespaces {
		space := " "
		if m.EscapeWhitespaces {
			space = spaceSymbol
		}
		for strings.HasSuffix(s, space) {
			s = s[:len(s)-len(space)]
		}
	}
	return s
}

// writeNormalized appends s, spaces shown as ▁ when the model escapes them.
func (m *SentencePiece) writeNormalized(out *strings.Builder, s string) {
	if !m.EscapeWhitespaces {
		out.WriteString(s)
		return
	}
	for i := range len(s) {
		if s[i] == ' ' {
			out.WriteString(spaceSymbol)
		} else {
			out.WriteByte(s[i])
		}
	}
}

// normalizePrefix returns the normalised form of the start of s and the
// number of bytes of s it replaces: a user-defined piece as it is, else
// the longest match in the character map, else one character (invalid
// UTF-8: one byte, replaced by U+FFFD).
func (m *SentencePiece) normalizePrefix(s string) (string, int) {
	if n, _ := m.user.longest(s); n > 0 {
		return s[:n], n
	}
	if n, v := m.charsMapLongest(s); n > 0 {
		end := v
		for end < len(m.replace) && m.replace[end] != 0 {
			end++
		}
		return string(m.replace[v:end]), n
	}
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && n <= 1 {
		return "\uFFFD", 1
	}
	return s[:n], n
}

// charsMapLongest is Darts-clone's commonPrefixSearch over the character
// map's double array, keeping the longest of the first 32 matches (as
// SentencePiece does): the length of the match and its value, the offset of
// its replacement string; 0, 0 when nothing matches. Every index into the
// untrusted array is checked.
func (m *SentencePiece) charsMapLongest(s string) (length, value int) {
	a := m.charsMap
	if len(a) == 0 {
		return 0, 0
	}
	offset := func(u uint32) int { return int((u >> 10) << ((u & (1 << 9)) >> 6)) }
	pos := offset(a[0])
	found := 0
	for i := 0; i < len(s) && found < 32; i++ {
		c := s[i]
		pos ^= int(c)
		if pos >= len(a) {
			break
		}
		u := a[pos]
		if u&(1<<31|0xff) != uint32(c) { // the label; a leaf unit never matches
			break
		}
		pos ^= offset(u)
		if pos >= len(a) {
			break
		}
		if (u>>8)&1 == 1 {
			v := int(a[pos] & (1<<31 - 1))
			found++
			if v < len(m.replace) {
				length, value = i+1, v
			}
		}
	}
	return length, value
}

// encodeNormalized is the unigram model's Viterbi segmentation of
// normalised text (SentencePiece's optimised unigram Encode: the best
// path ending at each byte, scores summed in float32; an unknown
// character costs the lowest score minus 10), then the processor's
// post-processing of unknown pieces.
func (m *SentencePiece) encodeNormalized(s string) []Token {
	if s == "" {
		return nil
	}
	type best struct {
		id, start int
		score     float32
	}
	n := len(s)
	ends := make([]best, n+1)
	for i := range ends {
		ends[i].start = -1
	}
	unkScore := m.minScore - 10
	for start := 0; start < n; {
		here := ends[start].score
		_, mblen := utf8.DecodeRuneInString(s[start:])
		single := false
		m.normal.walk(s[start:], func(length, id int) {
			p := m.pieces[id]
			if p.typ == pieceUnused {
				return
			}
			score := p.score
			if p.typ == pieceUserDefined {
				score = float32(length)*m.maxScore - 0.1
			}
			t := &ends[start+length]
			if c := score + here; t.start < 0 || c > t.score {
				*t = best{id: id, start: start, score: c}
			}
			if length == mblen {
				single = true
			}
		})
		if !single {
			t := &ends[start+mblen]
			if c := unkScore + here; t.start < 0 || c > t.score {
				*t = best{id: m.unk, start: start, score: c}
			}
		}
		start += mblen
	}
	var rev []Token
	for end := n; end > 0; end = ends[end].start {
		rev = append(rev, Token{ID: ends[end].id, Text: s[ends[end].start:end]})
	}
	slices.Reverse(rev)
	out := rev[:0:0]
	prevUnk := false
	for _, t := range rev {
		unk := t.ID == m.unk
		switch {
		case unk && m.byteFallback:
			for i := range len(t.Text) {
				id := m.bytes[t.Text[i]]
				if id < 0 {
					id = m.unk
				}
				out = append(out, Token{ID: id, Text: t.Text[i : i+1]})
			}
		case unk && prevUnk:
			out[len(out)-1].Text += t.Text
		default:
			out = append(out, t)
		}
		prevUnk = unk
	}
	return out
}

// trieNode is a byte trie of pieces: children sorted by byte.
type trieNode struct {
	id       int // the piece ending here, or −1 (0 in an unset node: see term)
	term     bool
	children []trieEdge
}

type trieEdge struct {
	b    byte
	node *trieNode
}

func (t *trieNode) insert(s string, id int) {
	for i := range len(s) {
		j, ok := slices.BinarySearchFunc(t.children, s[i], func(e trieEdge, b byte) int { return int(e.b) - int(b) })
		if !ok {
			t.children = slices.Insert(t.children, j, trieEdge{b: s[i], node: &trieNode{}})
		}
		t = t.children[j].node
	}
	t.id, t.term = id, true
}

// walk calls fn(length, id) for every piece that is a prefix of s, shortest
// first.
func (t *trieNode) walk(s string, fn func(length, id int)) {
	for i := range len(s) {
		j, ok := slices.BinarySearchFunc(t.children, s[i], func(e trieEdge, b byte) int { return int(e.b) - int(b) })
		if !ok {
			return
		}
		t = t.children[j].node
		if t.term {
			fn(i+1, t.id)
		}
	}
}

// longest returns the length and id of the longest piece that is a prefix
// of s (0, −1 when none).
func (t *trieNode) longest(s string) (int, int) {
	n, id := 0, -1
	t.walk(s, func(l, i int) { n, id = l, i })
	return n, id
}
