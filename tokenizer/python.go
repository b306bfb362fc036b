package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The reference tokenizers are Python code: OpenAI's simple_tokenizer.py
// and transformers' SiglipTokenizer. The helpers here reproduce the parts
// of Python's str that they lean on, where Go's standard library differs.

// isSpace reports whether Python's str.isspace (and the \s of re) holds
// for r: Go's unicode.IsSpace plus the information separators U+001C…U+001F,
// which Python counts as whitespace (bidirectional class B or S).
func isSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// collapseSpace is Python's re.sub(r"\s+", " ", s).strip(): every run of
// whitespace (isSpace) becomes one space, and the ends lose theirs.
func collapseSpace(s string) string { return collapse(s, isSpace) }

// collapse replaces every run of characters for which space holds by one
// space and trims the ends (of isSpace characters, as str.strip does).
// With unicode.IsSpace it is the regex module's re.sub(r"\s+", " ", s)
// followed by str.strip(): the regex module's \s lacks the separators
// U+001C…U+001F that Python's str.isspace has.
func collapse(s string, space func(rune) bool) string {
	s = strings.TrimFunc(s, isSpace)
	var b strings.Builder
	b.Grow(len(s))
	inSpace := false
	for _, r := range s {
		if space(r) {
			inSpace = true
			continue
		}
		if inSpace && b.Len() > 0 {
			b.WriteByte(' ')
		}
		inSpace = false
		b.WriteRune(r)
	}
	return strings.TrimFunc(b.String(), isSpace)
}

// lowerString is Python's str.lower() of a whole string: the full
// lower-case mapping (U+0130 İ becomes "i̇", two code points) and the
// Final_Sigma rule (Σ at the end of a word becomes ς, elsewhere σ).
func lowerString(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		switch r {
		case 0x130:
			b.WriteString("i\u0307")
		case 0x3a3:
			b.WriteRune(sigma(s, i))
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// lowerRune is Python's str.lower() of the one-character string r, as
// transformers' PreTrainedTokenizer.tokenize applies it for do_lower_case
// (one character at a time, so Σ is always σ).
func lowerRune(b *strings.Builder, r rune) {
	if r == 0x130 {
		b.WriteString("i\u0307")
		return
	}
	b.WriteRune(unicode.ToLower(r))
}

// sigma returns the lower case of the Σ at byte i of s: ς when a cased
// letter precedes it and none follows (case-ignorable characters between
// them are skipped), as CPython's handle_capital_sigma decides.
func sigma(s string, i int) rune {
	j := i
	var c rune
	for j > 0 {
		r, n := utf8.DecodeLastRuneInString(s[:j])
		j -= n
		if !caseIgnorable(r) {
			c = r
			break
		}
	}
	if c == 0 || !cased(c) {
		return 'σ'
	}
	for _, r := range s[i+len("Σ"):] {
		if !caseIgnorable(r) {
			if cased(r) {
				return 'σ'
			}
			break
		}
	}
	return 'ς'
}

// cased is Unicode's Cased property: Lowercase, Uppercase or Lt.
func cased(r rune) bool {
	return unicode.IsLower(r) || unicode.IsUpper(r) || unicode.IsTitle(r) ||
		unicode.Is(unicode.Other_Lowercase, r) || unicode.Is(unicode.Other_Uppercase, r)
}

// caseIgnorable is Unicode's Case_Ignorable property: the categories Mn,
// Me, Cf, Lm and Sk, and the word-break classes MidLetter, MidNumLet and
// Single_Quote (listed here).
func caseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0xb7, 0x387, 0x55f, 0x5f4, 0x2018, 0x2019, 0x2024, 0x2027,
		0xfe13, 0xfe52, 0xfe55, 0xff07, 0xff0e, 0xff1a:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}

// decodeRune decodes the first character of s; a byte of invalid UTF-8
// stands for itself (as U+FFFD, which Python's str never holds: callers
// receive text that came through a UTF-8 decoder).
func decodeRune(s string) (rune, int) {
	return utf8.DecodeRuneInString(s)
}
