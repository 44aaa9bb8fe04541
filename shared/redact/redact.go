// Package redact removes secrets from what gets stored or shown for debugging:
// request headers and bodies in the API call log, webhook receivers' responses,
// delivery payloads when the Activity Log shows them. Values are redacted by
// the name they are given (at any depth, see names.go) and by what they look
// like (keys, bearer tokens, signing secrets, JWTs, card numbers), in parsed
// JSON and in raw text alike.
package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
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
	// secretValue: our API keys, also with their underscores or digits
	// escaped as JSON (\u005f) or in a URL (%5F); signing secrets; JWTs;
	// the password in a URL's userinfo (scheme://user:password@host).
	secretValue = regexp.MustCompile(`(?i)(ua(?:_|%5f|\\u005f)live(?:_|%5f|\\u005f)(?:[0-9a-z]|\\u00[0-9a-f]{2}|\\/)+|whsec_[A-Za-z0-9+/=]+|eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)`)
	urlPassword = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://[^\s/:@"']+):([^\s@/"']+)@`)
	// schemeCredential is "Bearer <token>" or "Basic <base64>" written in text
	// (any Unicode space between). Group 1 is the scheme, 2 the credential.
	schemeCredential = regexp.MustCompile(`(?i)\b(bearer|basic)(?:[\s\p{Zs}]|%20)+([A-Za-z0-9._~+/=-]+)`)
)

// String redacts secret-looking substrings of free text, and the values of
// sensitive names written as name=value or "name": value.
func String(s string) string {
	if strings.Contains(s, "://") {
		s = urlPassword.ReplaceAllString(s, "${1}:"+Marker+"@")
	}
	if mayHoldSecretValue(s) {
		s = apiKeys(s)
		s = secretValue.ReplaceAllString(s, Marker)
		s = schemeCredential.ReplaceAllStringFunc(s, func(m string) string {
			sub := schemeCredential.FindStringSubmatch(m)
			if !credential(strings.ToLower(sub[1]), sub[2]) {
				return m
			}
			return Marker
		})
	}
	return cards(namedValues(s))
}

// credential tells a token after "Bearer" or "Basic" from an ordinary word
// ("Basic inspection", "bearer assembly"): a Basic credential is base64 of
// user:password; a bearer token has a digit or a token punctuation mark, or
// is too long to be a word.
func credential(scheme, v string) bool {
	if scheme == "basic" {
		raw, err := base64.StdEncoding.DecodeString(v)
		return err == nil && bytes.IndexByte(raw, ':') > 0
	}
	return len(v) >= 20 || strings.ContainsAny(v, "0123456789._~+/=-")
}

// mayHoldSecretValue is a cheap test that spares most text the
// case-insensitive regular expression, the costliest step.
func mayHoldSecretValue(s string) bool {
	lower := strings.ToLower(s)
	for _, p := range []string{"live", "whsec_", "bearer", "basic", "eyj"} { // what secretValue and schemeCredential start with
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
		if (s[i] != ':' && s[i] != '=' && s[i] != '>') || i < last {
			continue
		}
		name := nameBefore(s, i)
		element := s[i] == '>' // <password>value</password>
		if element && (i-len(name) < 1 || s[i-len(name)-1] != '<') {
			continue
		}
		if len(name) < 2 || !SensitiveName(name) {
			continue
		}
		v := i + 1
		if !element && v < len(s) && (s[v] == '>' || s[v] == '=') {
			v++ // "name" => value, name := value
		}
		for v < len(s) && (s[v] == ' ' || s[v] == '\t') {
			v++
		}
		rest := s[v:]
		if strings.HasPrefix(rest, Marker) || strings.HasPrefix(rest, `"`+Marker+`"`) ||
			strings.HasPrefix(rest, `\"`+Marker+`\"`) || strings.HasPrefix(rest, `'`+Marker+`'`) {
			continue // already redacted (by value, or by a pass before this one)
		}
		end := valueEnd(s, v)
		if element {
			end = v + strings.IndexByte(s[v:]+"<", '<')
		}
		if end == v {
			continue
		}
		b.WriteString(s[last:v])
		switch {
		case element:
			b.WriteString(Marker)
		case s[v] == '"' || s[v] == '\'':
			b.WriteString(string(s[v]) + Marker + string(s[v]))
		case strings.HasPrefix(s[v:], `\"`):
			b.WriteString(`\"` + Marker + `\"`)
		default:
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
	if j > 0 && (s[j-1] == '"' || s[j-1] == '\'') {
		j--
		if j > 0 && s[j-1] == '\\' {
			j-- // \" : a JSON document inside a JSON string
		}
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

// valueEnd returns where the value starting at i ends: after its closing
// quote (an escaped \" one for JSON inside a JSON string), or at the end if
// the text was cut short; after the matching bracket for an array or object;
// otherwise at the end of the line or the next &, ; or , (a form, a query, a
// log line), so "password: correct horse battery" loses all three words.
func valueEnd(s string, i int) int {
	switch {
	case i >= len(s):
		return i
	case s[i] == '"' || s[i] == '\'':
		for j := i + 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				j++
			case s[i]:
				return j + 1
			}
		}
		return len(s)
	case strings.HasPrefix(s[i:], `\"`):
		if end := strings.Index(s[i+2:], `\"`); end >= 0 {
			return i + 2 + end + 2
		}
		return len(s)
	case s[i] == '[' || s[i] == '{':
		depth, inString := 0, false
		for j := i; j < len(s); j++ {
			switch c := s[j]; {
			case inString && c == '\\':
				j++
			case c == '"':
				inString = !inString
			case inString:
			case c == '[' || c == '{':
				depth++
			case c == ']' || c == '}':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(s)
	}
	j := i
	for j < len(s) && !strings.ContainsRune("\r\n\"&,;}]", rune(s[j])) {
		j++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
		j-- // keep the spaces before what follows
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
			out[freeName(out, String(k))] = child
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

// cardNumber reports whether a JSON number's whole part is a card number,
// however it is written (4111111111111111, 4.111111111111111e15,
// 4111111111111111.000, 41111111111111110000e-4). It reads the literal's
// digits and exponent itself: math/big would spend seconds on 4e999999.
func cardNumber(n json.Number) bool {
	lit := strings.TrimPrefix(string(n), "-")
	mantissa, exp := lit, 0
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(lit[i+1:], "+"))
		if err != nil || e > 64 || e < -64 {
			return false // no 13-19 digit whole part is that far from its digits
		}
		mantissa, exp = lit[:i], e
	}
	whole, frac, _ := strings.Cut(mantissa, ".")
	digits := strings.TrimLeft(whole+frac, "0")
	point := len(whole) - (len(whole+frac) - len(digits)) + exp // digits before the point
	if point < 13 || point > 19 {
		return false
	}
	d := make([]int, point)
	for i := range point {
		if i < len(digits) {
			d[i] = int(digits[i] - '0')
		}
	}
	return luhnDigits(d)
}

// freeName is name, or name#2, name#3… if redaction made two names one.
func freeName[V any](m map[string]V, name string) string {
	free := name
	for i := 2; ; i++ {
		if _, taken := m[free]; !taken {
			return free
		}
		free = name + "#" + strconv.Itoa(i)
	}
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
		value := Marker
		if !SensitiveName(lower) {
			value = String(strings.ToValidUTF8(strings.Join(h[name], ", "), "\uFFFD"))
		}
		out[freeName(out, String(strings.ToValidUTF8(lower, "\uFFFD")))] = value // a name can carry a secret too
	}
	return out
}

// Card numbers in text. A candidate is a run of digit groups (any Unicode
// decimal digits) where groups are separated by at most three separator
// characters (spaces, dashes, dots, underscores), whatever letters surround the
// run. Any stretch of whole groups with 13-19 digits that passes the Luhn check
// is redacted: "SN4111111111111111", "4111.1111.1111.1111",
// "4111  1111  1111  1111 123" (the card, not the code after it).
const maxSeparators = 8

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
		// A whole group with zeros in front of a card ("004111…") is judged
		// without them.
		if g := groups[i]; g.to-g.from > 13 {
			lead := g.from
			for lead < g.to && digits[lead] == 0 {
				lead++
			}
			if lead > g.from && g.to-lead <= len(buf) && luhnDigits(digits[lead:g.to]) {
				spans = append(spans, [2]int{g.start, g.end})
			}
		}
		n := 0
		for j := i; j < len(groups) && n+groups[j].to-groups[j].from <= len(buf); j++ {
			n += copy(buf[n:], digits[groups[j].from:groups[j].to])
			if j > i && !cardGrouping(groups[i:j+1]) {
				continue
			}
			if luhnDigits(buf[:n]) {
				spans = append(spans, [2]int{groups[i].start, groups[j].end})
			}
		}
	}
	return spans
}

// cardGrouping reports whether digit groups are written the way cards are
// (4-4-4-4, 4-6-5, 4-6-4, 4-4-4-4-3): a first group of four, each of three to
// six. Coordinates ("52.520008 13.404954") and phone numbers ("49 151 ...")
// are not.
func cardGrouping(gs []group) bool {
	if gs[0].to-gs[0].from != 4 {
		return false
	}
	for _, g := range gs[1:] {
		if l := g.to - g.from; l < 3 || l > 6 {
			return false
		}
	}
	return true
}

// separator reports what may stand between a card's digit groups: spaces of
// any kind and line breaks, dashes, dots, underscores, slashes, commas,
// colons, middle dots, and the invisible format characters (zero-width space,
// word joiner, soft hyphen) that make a card look whole while splitting it.
// The card-style grouping rule keeps dates and lists from being taken for one.
func separator(r rune) bool {
	switch r {
	case ' ', '-', '.', '_', '/', ',', ':', '\u00b7', '\t', '\n', '\r':
		return true
	}
	return unicode.Is(unicode.Pd, r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r)
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

// luhnDigits reports whether digits are a card number: a length and leading
// digits some card network issues (ISO/IEC 7812 issuer ranges), and the Luhn
// check. The ranges keep other Luhn-checked numbers in the clear: IMEIs (15
// digits, 35…/49…/86…), SIM ICCIDs (89…, 19-20 digits), epoch milliseconds
// (13 digits, 1…), which an IoT integrator needs to read.
func luhnDigits(digits []int) bool {
	if !issued(digits) {
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

// issued reports whether a card network issues numbers of this length with
// these leading digits.
func issued(d []int) bool {
	n := len(d)
	if n < 13 || n > 19 {
		return false
	}
	prefix := func(k int) int {
		v := 0
		for _, x := range d[:k] {
			v = v*10 + x
		}
		return v
	}
	in := func(k, lo, hi int) bool { p := prefix(k); return p >= lo && p <= hi }
	switch d[0] {
	case 1: // UATP
		return n == 15
	case 2: // Mir; Mastercard 2-series
		return in(4, 2200, 2204) || in(4, 2221, 2720) && n == 16
	case 3: // Amex; JCB; Diners; RuPay-JCB
		return (in(2, 34, 34) || in(2, 37, 37)) && n == 15 ||
			in(4, 3528, 3589) && n >= 16 ||
			(in(3, 300, 305) || in(4, 3095, 3095) || in(2, 36, 36) || in(2, 38, 39)) && n >= 14
	case 4: // Visa
		return n == 13 || n == 16 || n == 19
	case 5: // Mastercard; Maestro; RuPay; Verve
		return in(2, 51, 55) && n == 16 || in(2, 50, 50) || in(2, 56, 59)
	case 6: // Discover; UnionPay; Maestro; RuPay; InstaPayment; Verve
		return true
	case 8: // UnionPay 81; RuPay 82
		return in(2, 81, 82) && n >= 16
	case 9: // Troy
		return in(4, 9792, 9792) && n == 16
	}
	return false
}
