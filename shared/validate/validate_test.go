package validate

import (
	"strings"
	"testing"

	"github.com/uniasset/integrations/shared/apierror"
)

func TestForbiddenCharacters(t *testing.T) {
	cases := []struct {
		r                           rune
		identifier, line, multiline bool // forbidden?
	}{
		{'a', false, false, false},
		{' ', false, false, false},
		{'é', false, false, false},
		{'日', false, false, false},
		{'\t', true, true, false},
		{'\n', true, true, false},
		{'\r', true, true, true},
		{0x00, true, true, true},
		{0x1b, true, true, true},      // ESC: terminal escape sequences
		{0x7f, true, true, true},      // DEL
		{0x85, true, true, true},      // NEL, a C1 control
		{0x9b, true, true, true},      // CSI, a C1 control
		{0x2028, true, true, true},    // LINE SEPARATOR
		{0x2029, true, true, true},    // PARAGRAPH SEPARATOR
		{0x202e, true, true, true},    // RIGHT-TO-LEFT OVERRIDE
		{0x2066, true, true, true},    // LEFT-TO-RIGHT ISOLATE
		{0x061c, true, true, true},    // ARABIC LETTER MARK
		{0x200b, true, true, true},    // ZERO WIDTH SPACE
		{0x200e, true, true, true},    // LEFT-TO-RIGHT MARK
		{0xfeff, true, true, true},    // BYTE ORDER MARK
		{0x2062, true, true, true},    // INVISIBLE TIMES
		{0xe0041, true, true, true},   // TAG LATIN CAPITAL LETTER A (hidden text)
		{0xfdd0, true, true, true},    // noncharacter
		{0x1fffe, true, true, true},   // noncharacter
		{0x200d, true, false, false},  // ZERO WIDTH JOINER: emoji sequences
		{0x200c, true, false, false},  // ZERO WIDTH NON-JOINER: Persian, Indic scripts
		{0x3164, true, true, true},    // HANGUL FILLER: an "invisible" name
		{0x115f, true, true, true},    // HANGUL CHOSEONG FILLER
		{0xffa0, true, true, true},    // HALFWIDTH HANGUL FILLER
		{0x034f, true, true, true},    // COMBINING GRAPHEME JOINER
		{0x17b4, true, true, true},    // KHMER VOWEL INHERENT AQ
		{0xfe0f, true, false, false},  // VARIATION SELECTOR-16: emoji presentation
		{0xe0100, true, false, false}, // VARIATION SELECTOR-17
		{0xa0, true, false, false},    // NO-BREAK SPACE
		{0x3000, true, false, false},  // IDEOGRAPHIC SPACE
	}
	for _, c := range cases {
		for kind, want := range map[Kind]bool{Identifier: c.identifier, Line: c.line, Multiline: c.multiline} {
			if got := Forbidden(c.r, kind); got != want {
				t.Errorf("U+%04X kind %d: forbidden=%v, want %v", c.r, kind, got, want)
			}
		}
	}
}

func TestTextListsEachProblem(t *testing.T) {
	var p Problems
	if got := p.Text("name", "  Pump 7  ", Line, 10, true); got != "Pump 7" {
		t.Errorf("trimmed to %q", got)
	}
	p.Text("a", "   ", Line, 10, true)
	p.Text("b", strings.Repeat("é", 11), Line, 10, false)
	p.Text("c", "x\u202ey", Line, 10, false)
	p.Text("d", "\xff", Line, 10, false)
	p.Text("e", "👩\u200d🔧", Line, 10, false)
	p.Text("f", "line one\nline two", Multiline, 100, false)
	e, _ := apierror.From(p.Err())
	var got []string
	for _, f := range e.Fields {
		got = append(got, f.Field+": "+f.Issue)
	}
	want := []string{
		"a: is required",
		"b: must be at most 10 characters",
		"c: must not contain control or invisible formatting characters (U+202E)",
		"d: must be valid UTF-8",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if (&Problems{}).Err() != nil {
		t.Error("no problems must be a nil error")
	}
}

// One value, however its accents were typed: NFC.
func TestTextIsNormalized(t *testing.T) {
	var p Problems
	if got := p.Text("externalId", "cafe\u0301", Identifier, 10, true); got != "caf\u00e9" {
		t.Errorf("got %q, want the precomposed form", got)
	}
	if p.Err() != nil {
		t.Errorf("a combining accent was refused: %v", p.Err())
	}
}
