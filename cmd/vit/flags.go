package main

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/vitgo/vit"
)

// Every numeric and enum flag of vit is one of the checked values below:
// its Set refuses a bad value as the command line is parsed, before any
// data or model loads, with what is allowed. The parse error then names
// the flag and the value (see flagError): "--batch 0: must be a positive
// integer".

// checkedValue is a flag value that validates what it is set to.
type checkedValue interface {
	pflag.Value
	// bad lists values Set refuses, for tests.
	bad() []string
}

// maxCount is the largest integer an integer flag takes: counts beyond it
// (steps, epochs, images) are mistakes, and products of a few of them stay
// far inside an int.
const maxCount = math.MaxInt32

// intValue is an integer flag in [min, max], and one of choices when
// there are choices.
type intValue struct {
	p        *int
	min, max int
	choices  []int
}

func (v *intValue) String() string { return strconv.Itoa(*v.p) }
func (v *intValue) Type() string   { return "int" }
func (v *intValue) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < int64(v.min) || n > int64(v.max) || v.choices != nil && !slices.Contains(v.choices, int(n)) {
		return errors.New(v.allowed())
	}
	*v.p = int(n)
	return nil
}

func (v *intValue) allowed() string {
	switch {
	case v.choices != nil:
		words := make([]string, len(v.choices))
		for i, c := range v.choices {
			words[i] = strconv.Itoa(c)
		}
		return "must be " + orList(words)
	case v.min == 1 && v.max == maxCount:
		return "must be a positive integer"
	case v.min == 0 && v.max == maxCount:
		return "must be an integer ≥ 0"
	}
	return fmt.Sprintf("must be an integer from %d to %d", v.min, v.max)
}

func (v *intValue) bad() []string {
	b := []string{strconv.Itoa(v.min - 1), strconv.FormatInt(int64(v.max)+1, 10), "x", "1.5"}
	for n := v.min; v.choices != nil && n <= v.max; n++ {
		if !slices.Contains(v.choices, n) {
			b = append(b, strconv.Itoa(n))
		}
	}
	return b
}

// floatValue is a finite float flag in the range [min, max], with the
// ends excluded where open says.
type floatValue struct {
	p                  *float64
	min, max           float64
	minOpen, maxOpen   bool
	belowMin, aboveMax string // values outside, for bad
}

func (v *floatValue) String() string { return strconv.FormatFloat(*v.p, 'g', -1, 64) }
func (v *floatValue) Type() string   { return "float64" }
func (v *floatValue) Set(s string) error {
	x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x < v.min || x > v.max || v.minOpen && x == v.min || v.maxOpen && x == v.max {
		return errors.New(v.allowed())
	}
	*v.p = x
	return nil
}

func (v *floatValue) allowed() string {
	lo, hi := "[", "]"
	if v.minOpen {
		lo = "("
	}
	if v.maxOpen {
		hi = ")"
	}
	switch {
	case math.IsInf(v.max, 1) && v.min == 0 && v.minOpen:
		return "must be a positive number"
	case math.IsInf(v.max, 1) && v.min == 0:
		return "must be a number ≥ 0"
	}
	return fmt.Sprintf("must be a number in %s%g, %g%s", lo, v.min, v.max, hi)
}

func (v *floatValue) bad() []string {
	b := []string{"NaN", "Inf", "x"}
	if v.belowMin != "" {
		b = append(b, v.belowMin)
	}
	if v.aboveMax != "" {
		b = append(b, v.aboveMax)
	}
	return b
}

// uintValue is an unsigned 64-bit flag (a seed).
type uintValue struct{ p *uint64 }

func (v *uintValue) String() string { return strconv.FormatUint(*v.p, 10) }
func (v *uintValue) Type() string   { return "uint" }
func (v *uintValue) Set(s string) error {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return errors.New("must be an integer from 0 to 18446744073709551615")
	}
	*v.p = n
	return nil
}
func (v *uintValue) bad() []string { return []string{"-1", "x", "1e3"} }

// enumValue is a string flag that takes one of a few words.
type enumValue struct {
	p       *string
	choices []string
}

func (v *enumValue) String() string { return *v.p }
func (v *enumValue) Type() string   { return "string" }
func (v *enumValue) Set(s string) error {
	if !slices.Contains(v.choices, s) {
		return fmt.Errorf("must be %s", orList(v.choices))
	}
	*v.p = s
	return nil
}
func (v *enumValue) bad() []string { return []string{"bogus", ""} }

// parsedValue is a string flag with a syntax, checked by parse.
type parsedValue struct {
	p     *string
	parse func(string) error
	bads  []string
}

func (v *parsedValue) String() string { return *v.p }
func (v *parsedValue) Type() string   { return "string" }
func (v *parsedValue) Set(s string) error {
	if err := v.parse(s); err != nil {
		return err
	}
	*v.p = s
	return nil
}
func (v *parsedValue) bad() []string { return v.bads }

// orList writes words as "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// flags registers checked flags on a pflag.FlagSet.
type flags struct{ *pflag.FlagSet }

// count is an integer flag of at least min (0 or 1).
func (f flags) count(p *int, name string, def, min int, usage string) {
	*p = def
	f.Var(&intValue{p: p, min: min, max: maxCount}, name, usage)
}

// intChoice is an integer flag taking one of choices (sorted).
func (f flags) intChoice(p *int, name string, def int, choices []int, usage string) {
	*p = def
	f.Var(&intValue{p: p, min: choices[0], max: choices[len(choices)-1], choices: choices}, name, usage)
}

// positive is a float flag > 0.
func (f flags) positive(p *float64, name string, def float64, usage string) {
	*p = def
	f.Var(&floatValue{p: p, min: 0, max: math.Inf(1), minOpen: true, belowMin: "0"}, name, usage)
}

// nonNegative is a float flag ≥ 0.
func (f flags) nonNegative(p *float64, name string, def float64, usage string) {
	*p = def
	f.Var(&floatValue{p: p, min: 0, max: math.Inf(1), belowMin: "-0.5"}, name, usage)
}

// rate is a float flag in [0, 1), such as a dropout rate.
func (f flags) rate(p *float64, name string, def float64, usage string) {
	*p = def
	f.Var(&floatValue{p: p, min: 0, max: 1, maxOpen: true, belowMin: "-0.1", aboveMax: "1"}, name, usage)
}

// probability is a float flag in [0, 1].
func (f flags) probability(p *float64, name string, def float64, usage string) {
	*p = def
	f.Var(&floatValue{p: p, min: 0, max: 1, belowMin: "-0.1", aboveMax: "1.5"}, name, usage)
}

// seed is a uint64 flag.
func (f flags) seed(p *uint64, name string, def uint64, usage string) {
	*p = def
	f.Var(&uintValue{p}, name, usage)
}

// enum is a string flag taking one of choices; def may be "" (unset).
func (f flags) enum(p *string, name, def string, choices []string, usage string) {
	*p = def
	f.Var(&enumValue{p: p, choices: choices}, name, usage)
}

// parsed is a string flag whose syntax parse checks; bad lists values it
// refuses.
func (f flags) parsed(p *string, name, def string, parse func(string) error, bad []string, usage string) {
	*p = def
	f.Var(&parsedValue{p: p, parse: parse, bads: bad}, name, usage)
}

// The enums shared by several commands.
var (
	dtypes     = []string{"fp32", "bf16"}
	attentions = []string{"softmax", "performer"}
	fuses      = []string{"mean", "max", "min"}
)

// parsePreset checks a --model preset name such as B/16.
func parsePreset(s string) error {
	_, patch, ok := strings.Cut(strings.TrimPrefix(s, "ViT-"), "/")
	p, err := strconv.Atoi(patch)
	if ok && err == nil && p > 0 && p <= vit.MaxSide {
		if _, err := vit.Preset(s, p, 3, 1); err == nil {
			return nil
		}
	}
	return errors.New("unknown model preset: use SIZE/PATCH with SIZE one of Ti, S, B, L, H and PATCH a positive integer (e.g. B/16, S/32, Ti/16), optionally after an encoder family CLIP-, SigLIP-, DINOv2-, DINOv2reg- or DeiT- (e.g. CLIP-B/16, DINOv2-B/14)")
}

// flagError turns a flag parsing error into one line naming the flag, the
// value and what is allowed: "--batch 0: must be a positive integer".
func flagError(err error) error {
	var iv *pflag.InvalidValueError
	if errors.As(err, &iv) {
		return usageErrorf("--%s %s: %v", iv.GetFlag().Name, quoteIfNeeded(iv.GetValue()), iv.Unwrap())
	}
	return usageErrorf("%v", err)
}

// quoteIfNeeded quotes values that would not read well bare.
func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"'") {
		return strconv.Quote(s)
	}
	return s
}
