// Package validate holds the one way request bodies are checked: a list that
// collects every problem (so one response names them all) and the rules for
// text that clients choose.
package validate

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/uniasset/integrations/shared/apierror"
)

// Problems collects what is wrong with a body.
type Problems struct{ fields []apierror.FieldError }

// Add records one problem.
func (p *Problems) Add(field, issue string) {
	p.fields = append(p.fields, apierror.FieldError{Field: field, Issue: issue})
}

// Err is nil when nothing was added, else one VALIDATION_ERROR listing everything.
func (p *Problems) Err() error {
	if len(p.fields) == 0 {
		return nil
	}
	return apierror.Invalid(p.fields...)
}

// Kind says which characters a text field may hold.
type Kind int

const (
	// Identifier is a value other systems match on (externalId): printable
	// characters only, nothing invisible, no line breaks.
	Identifier Kind = iota
	// Line is a one-line label (a name, a title).
	Line
	// Multiline is free text (a description): Line plus tabs and line feeds.
	Multiline
)

// Text trims s, checks it against the field's rules and returns it trimmed
// and in Unicode Normalization Form C, so "café" typed with a combining accent
// and with a precomposed é is one value, not two that look the same.
func (p *Problems) Text(field, s string, kind Kind, max int, required bool) string {
	s = strings.TrimSpace(s)
	if utf8.ValidString(s) {
		s = norm.NFC.String(s)
	}
	switch {
	case s == "" && required:
		p.Add(field, "is required")
	case !utf8.ValidString(s):
		p.Add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		p.Add(field, fmt.Sprintf("must be at most %d characters", max))
	default:
		if i := strings.IndexFunc(s, func(r rune) bool { return Forbidden(r, kind) }); i >= 0 {
			r, _ := utf8.DecodeRuneInString(s[i:])
			p.Add(field, fmt.Sprintf("must not contain control or invisible formatting characters (U+%04X)", r))
		}
	}
	return s
}

// Forbidden reports whether r may not appear in text of the given kind.
//
// Refused everywhere: C0 and C1 controls and DEL (Cc), line and paragraph
// separators (Zl, Zp), noncharacters, the format characters (Cf) that hide or
// reorder text (bidirectional overrides and isolates, the "Trojan Source"
// trick; zero-width spaces; the byte-order mark; invisible operators) and the
// other default-ignorable characters, which are drawn as nothing. Labels and
// free text keep ZERO WIDTH (NON-)JOINER and variation selectors, which emoji
// sequences and several scripts need; identifiers keep none of them, so two
// ids that look the same are the same.
func Forbidden(r rune, kind Kind) bool {
	switch {
	case r == '\t' || r == '\n':
		return kind != Multiline
	case unicode.Is(unicode.Cc, r), unicode.In(r, unicode.Zl, unicode.Zp), noncharacter(r):
		return true
	case unicode.Is(unicode.Cf, r):
		return kind == Identifier || (r != '\u200c' && r != '\u200d')
	case unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r):
		return true // drawn as nothing: Hangul fillers (U+3164), COMBINING GRAPHEME JOINER, U+17B4
	case unicode.Is(unicode.Variation_Selector, r):
		return kind == Identifier // emoji in labels need VS16; an id does not
	case r == '\u2800':
		return kind != Multiline // BRAILLE PATTERN BLANK: the usual "invisible name"
	case !assigned(r):
		return true // no glyph, no meaning yet: nothing to show a person
	case unicode.Is(unicode.Co, r):
		return kind == Identifier // private use: each font draws it differently
	case kind == Identifier && unicode.IsSpace(r) && r != ' ':
		return true // other spaces (NBSP, ideographic space...) look like ' ' but do not match it
	}
	return false
}

// assigned reports whether Unicode (as this Go release knows it) gives r a category.
func assigned(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.C) &&
		!unicode.Is(unicode.Cs, r)
}

// noncharacter reports the 66 code points Unicode keeps out of interchange.
func noncharacter(r rune) bool {
	return (r >= 0xFDD0 && r <= 0xFDEF) || r&0xFFFE == 0xFFFE
}

// Whole reads a JSON number whose exact value is whole (14, 14.0,
// 1.4e1), at most 1e9 either side of zero; anything else — a fraction, one
// that would round to whole as a float (0.99999999999999999, 1e-400), a
// string, boolean or null — is a VALIDATION_ERROR with issue.
func Whole(b []byte, issue string) (int, error) {
	bad := apierror.Invalid(apierror.FieldError{Field: "body", Issue: issue})
	s := string(b)
	if s == "" || len(s) > 64 || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return 0, bad
	}
	// Bound the exponent before big.Rat expands it: 1e999999999 is a short
	// way to ask for a very large number.
	if _, exp, ok := strings.Cut(strings.ToLower(s), "e"); ok {
		if e, err := strconv.Atoi(exp); err != nil || e < -64 || e > 64 {
			return 0, bad
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || !r.IsInt() || r.Num().CmpAbs(big.NewInt(1e9)) > 0 {
		return 0, bad
	}
	return int(r.Num().Int64()), nil
}
