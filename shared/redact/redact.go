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
)

// String redacts secret-looking substrings of free text, and the values of
// sensitive names written as name=value or "name": value.
func String(s string) string {
	if mayHoldSecretValue(s) {
		s = secretValue.ReplaceAllString(s, Marker)
	}
	return cards(namedValues(s))
}

// mayHoldSecretValue is a cheap test that spares most text the
// case-insensitive regular expression, the costliest step.
func mayHoldSecretValue(s string) bool {
	lower := strings.ToLower(s)
	for _, p := range []string{"ua_live_", "whsec_", "bearer", "basic", "eyj"} {
		if strings.Contains(lower, p) {
			return true
		}
	}
	return false
}

// namedValues redacts the values of sensitive names in text that is not (or
// not whole) JSON: "password": "x" in a truncated body, password=x in a form
// or query, Password: x in a log line. It scans once, looking back from each
// ':' or '=' for a name of up to maxNameRunes letters, digits, '_', '.', '-'
// (a regular expression for the same costs a second per 64 KiB body).
func namedValues(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		if (s[i] != ':' && s[i] != '=') || i < last {
			continue
		}
		name := nameBefore(s, i)
		if len(name) < 2 || !SensitiveName(name) {
			continue
		}
		v := i + 1
		for v < len(s) && (s[v] == ' ' || s[v] == '\t') {
			v++
		}
		rest := s[v:]
		if strings.HasPrefix(rest, Marker) || strings.HasPrefix(rest, `"`+Marker+`"`) {
			continue // already redacted (by value, or by a pass before this one)
		}
		end := valueEnd(s, v)
		if end == v {
			continue
		}
		b.WriteString(s[last:v])
		if s[v] == '"' {
			b.WriteString(`"` + Marker + `"`)
		} else {
			b.WriteString(Marker)
		}
		last = end
		i = end - 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

const maxNameRunes = 64

// nameBefore returns the name written just before the separator at i,
// skipping spaces and a closing quote: `"pwd" :` and `pwd=` both give pwd.
func nameBefore(s string, i int) string {
	j := i
	for j > 0 && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	if j > 0 && s[j-1] == '"' {
		j--
	}
	end, n := j, 0
	for j > 0 && n < maxNameRunes {
		r, size := utf8.DecodeLastRuneInString(s[:j])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '.' && r != '-' {
			break
		}
		j -= size
		n++
	}
	return s[j:end]
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
	if len(n) > 64 {
		return false // however written, a 13-19 digit number fits in 64 characters
	}
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
	from, to   int // the group's digit values, in the run's digits
}

func cards(s string) string {
	var groups []group
	var digits []int
	var spans [][2]int
	flushRun := func() {
		spans = append(spans, cardSpans(groups, digits)...)
		groups, digits = groups[:0], digits[:0]
	}
	seps, i := 0, 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		d, isDigit := digitValue(r)
		switch {
		case isDigit:
			digits = append(digits, d)
			if len(groups) > 0 && seps == 0 && groups[len(groups)-1].end == i {
				g := &groups[len(groups)-1]
				g.to, g.end = len(digits), i+size
			} else {
				groups = append(groups, group{start: i, end: i + size, from: len(digits) - 1, to: len(digits)})
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
func cardSpans(groups []group, digits []int) [][2]int {
	var spans [][2]int
	var buf [19]int // a card has at most 19 digits: no stretch longer is judged
	for i := range groups {
		n := 0
		for j := i; j < len(groups) && n+groups[j].to-groups[j].from <= len(buf); j++ {
			n += copy(buf[n:], digits[groups[j].from:groups[j].to])
			if luhnDigits(buf[:n]) {
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
