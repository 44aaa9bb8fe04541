// Package redact removes secrets from what gets stored or shown for debugging:
// request headers and bodies in the API call log, webhook receivers' responses,
// delivery payloads when the Activity Log shows them. Values are redacted by
// the name they are given (at any depth, see names.go) and by what they look
// like (keys, bearer tokens, signing secrets, JWTs, card numbers), in parsed
// JSON and in raw text alike.
package redact

import (
	"bytes"
	"encoding/json"
	"math/big"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Marker replaces every redacted value.
const Marker = "[REDACTED]"

var (
	secretValue = regexp.MustCompile(`(?i)(ua_live_[0-9a-z]+|whsec_[A-Za-z0-9+/=]+|bearer\s+[A-Za-z0-9._~+/=-]+|basic\s+[A-Za-z0-9+/=]{8,}|eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)`)
	// namedValue finds where a named value starts in text that is not (or not
	// whole) JSON: "password": "x" in a truncated body, password=x in a form or
	// query, Password: x in a log line. Group 1 is the name; the value follows
	// the match.
	namedValue = regexp.MustCompile(`"?([\p{L}\p{N}_.-]{2,64})"?\s*[:=]\s*`)
)

// String redacts secret-looking substrings of free text, and the values of
// sensitive names written as name=value or "name": value.
func String(s string) string {
	s = secretValue.ReplaceAllString(s, Marker)
	return cards(namedValues(s))
}

func namedValues(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range namedValue.FindAllStringSubmatchIndex(s, -1) {
		if m[0] < last || !SensitiveName(s[m[2]:m[3]]) {
			continue // inside a value already redacted, or not a secret's name
		}
		rest := s[m[1]:]
		if strings.HasPrefix(rest, Marker) || strings.HasPrefix(rest, `"`+Marker+`"`) {
			continue // already redacted (by value, or by a pass before this one)
		}
		end := valueEnd(s, m[1])
		if end == m[1] {
			continue
		}
		b.WriteString(s[last:m[1]])
		if s[m[1]] == '"' {
			b.WriteString(`"` + Marker + `"`)
		} else {
			b.WriteString(Marker)
		}
		last = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// valueEnd returns where the value starting at i ends: after its closing quote
// (or at the end, if the text was cut short), or at the next delimiter.
func valueEnd(s string, i int) int {
	if i < len(s) && s[i] == '"' {
		for j := i + 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return len(s)
	}
	j := i
	for j < len(s) && !strings.ContainsRune(" \t\r\n\"&,;}]", rune(s[j])) {
		j++
	}
	return j
}

// JSON returns body with sensitive fields and values redacted. A body that is
// not JSON (malformed, truncated, or text) is redacted as text by String.
func JSON(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return String(strings.ToValidUTF8(string(body), "\uFFFD"))
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // stored for people to read, never embedded in HTML unescaped
	if err := enc.Encode(walk(v)); err != nil {
		return Marker
	}
	return strings.TrimSuffix(out.String(), "\n")
}

func walk(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, child := range t {
			if SensitiveName(k) {
				child = Marker
			} else {
				child = walk(child)
			}
			// A key can be a secret too ({"4111 1111 1111 1111": …}).
			name := String(k)
			for i := 2; ; i++ {
				if _, taken := out[name]; !taken {
					break
				}
				name = String(k) + "#" + strconv.Itoa(i)
			}
			out[name] = child
		}
		return out
	case []any:
		for i := range t {
			t[i] = walk(t[i])
		}
		return t
	case string:
		return String(t)
	case json.Number:
		if cardNumber(t) {
			return Marker
		}
		return t
	}
	return v
}

// cardNumber reports whether a JSON number is a whole number whose digits are
// a card number, however it is written (4111111111111111, 4.111111111111111e15).
func cardNumber(n json.Number) bool {
	r, ok := new(big.Rat).SetString(string(n))
	if !ok || !r.IsInt() {
		// Not whole: judge the digits before the point.
		whole, _, _ := strings.Cut(strings.TrimPrefix(string(n), "-"), ".")
		return luhnDigits(digitsOf(whole))
	}
	return luhnDigits(digitsOf(new(big.Int).Abs(r.Num()).String()))
}

// Headers flattens request headers for storage: sensitive names are replaced
// whole, every other value is redacted like text.
func Headers(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		lower := strings.ToLower(name)
		if SensitiveName(lower) {
			out[lower] = Marker
			continue
		}
		out[lower] = String(strings.ToValidUTF8(strings.Join(h[name], ", "), "\uFFFD"))
	}
	return out
}

// Card numbers in text. A candidate is a run of digit groups (any Unicode
// decimal digits) where groups are separated by at most three separator
// characters (spaces, dashes, dots, underscores), whatever letters surround the
// run. Any stretch of whole groups with 13-19 digits that passes the Luhn check
// is redacted: "SN4111111111111111", "4111.1111.1111.1111",
// "4111  1111  1111  1111 123" (the card, not the code after it).
const maxSeparators = 3

type group struct {
	start, end int // byte offsets in the text
	digits     []int
}

func cards(s string) string {
	var groups []group
	var spans [][2]int
	flushRun := func() {
		spans = append(spans, cardSpans(groups)...)
		groups = groups[:0]
	}
	seps, i := 0, 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		d, isDigit := digitValue(r)
		switch {
		case isDigit:
			if len(groups) > 0 && seps == 0 && groups[len(groups)-1].end == i {
				g := &groups[len(groups)-1]
				g.digits = append(g.digits, d)
				g.end = i + size
			} else {
				groups = append(groups, group{start: i, end: i + size, digits: []int{d}})
			}
			seps = 0
		case separator(r) && len(groups) > 0 && seps < maxSeparators:
			seps++
		default:
			flushRun()
			seps = 0
		}
		i += size
	}
	flushRun()
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		if sp[0] < last {
			if sp[1] > last {
				last = sp[1] // overlaps the previous span: extend it
			}
			continue
		}
		b.WriteString(s[last:sp[0]])
		b.WriteString(Marker)
		last = sp[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// cardSpans returns the byte spans of card numbers among one run's groups.
func cardSpans(groups []group) [][2]int {
	var spans [][2]int
	for i := range groups {
		var digits []int
		for j := i; j < len(groups); j++ {
			digits = append(digits, groups[j].digits...)
			if len(digits) > 19 {
				break
			}
			if luhnDigits(digits) {
				spans = append(spans, [2]int{groups[i].start, groups[j].end})
			}
		}
	}
	return spans
}

func separator(r rune) bool {
	return r == ' ' || r == '-' || r == '.' || r == '_' || r == '\t' || unicode.Is(unicode.Pd, r) ||
		(unicode.IsSpace(r) && r != '\n' && r != '\r')
}

// digitValue reads any Unicode decimal digit (Nd): Arabic-Indic, Devanagari,
// fullwidth and the rest. Every Nd range in Unicode is whole runs of 0-9.
func digitValue(r rune) (int, bool) {
	if r >= '0' && r <= '9' {
		return int(r - '0'), true
	}
	if r < 0x80 || !unicode.Is(unicode.Nd, r) {
		return 0, false
	}
	for _, rg := range unicode.Nd.R16 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return int(r-rune(rg.Lo)) % 10, true
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return int(r-rune(rg.Lo)) % 10, true
		}
	}
	return 0, false
}

func digitsOf(s string) []int {
	var out []int
	for _, r := range s {
		if d, ok := digitValue(r); ok {
			out = append(out, d)
		}
	}
	return out
}

// luhnDigits reports whether 13-19 digits pass the Luhn check, as card numbers
// do. Card numbers never start with 0 (which also keeps runs of zeros, which
// pass the check, from being taken for one).
func luhnDigits(digits []int) bool {
	if len(digits) < 13 || len(digits) > 19 || digits[0] == 0 {
		return false
	}
	sum := 0
	for i := range digits {
		d := digits[len(digits)-1-i]
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// luhn is luhnDigits for the digits of s.
func luhn(s string) bool { return luhnDigits(digitsOf(s)) }
