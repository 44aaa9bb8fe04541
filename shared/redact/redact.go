// Package redact removes secrets from what gets stored for debugging: request
// bodies and headers in the activity log. Fields are redacted by name (at any
// depth) and by value (keys, bearer tokens, signing secrets, card numbers).
package redact

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
)

// Marker replaces every redacted value.
const Marker = "[REDACTED]"

// sensitiveNames are matched against field names with case, '_', '-' and '.' ignored.
var sensitiveNames = []string{
	"password", "passwd", "passphrase", "secret", "token", "apikey", "authorization", "auth",
	"cookie", "credential", "privatekey", "signature", "cardnumber", "creditcard", "ccnumber",
	"cvv", "cvc", "pan", "iban", "ssn", "pin",
}

// exactOnly are names too short to match as substrings ("pin" inside "shipping").
var exactOnly = map[string]bool{"pan": true, "pin": true, "ssn": true, "auth": true, "cvv": true, "cvc": true}

func normalize(name string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.', ' ':
			return -1
		}
		return r
	}, strings.ToLower(name))
}

// SensitiveName reports whether a field or header with this name holds a secret.
func SensitiveName(name string) bool {
	n := normalize(name)
	for _, s := range sensitiveNames {
		if n == s || (!exactOnly[s] && strings.Contains(n, s)) {
			return true
		}
	}
	return false
}

var (
	secretValue = regexp.MustCompile(`(?i)(ua_live_[0-9a-z]+|whsec_[A-Za-z0-9+/=]+|bearer\s+[A-Za-z0-9._~+/=-]+|eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)`)
	digitRun    = regexp.MustCompile(`\b\d(?:[ -]?\d){12,18}\b`)
)

// String redacts secret-looking substrings of free text.
func String(s string) string {
	s = secretValue.ReplaceAllString(s, Marker)
	return digitRun.ReplaceAllStringFunc(s, func(m string) string {
		if luhn(m) {
			return Marker
		}
		return m
	})
}

// luhn reports whether the digits of s (13-19 of them) pass the Luhn check, as card numbers do.
func luhn(s string) bool {
	var digits []int
	for _, r := range s {
		if r >= '0' && r <= '9' {
			digits = append(digits, int(r-'0'))
		}
	}
	if len(digits) < 13 || len(digits) > 19 {
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

// JSON returns body with sensitive fields and values redacted. A body that is
// not JSON is kept as text with secret-looking substrings redacted.
func JSON(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return String(string(body))
	}
	out, err := json.Marshal(walk(v))
	if err != nil {
		return Marker
	}
	return string(out)
}

func walk(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			if SensitiveName(k) {
				t[k] = Marker
			} else {
				t[k] = walk(child)
			}
		}
		return t
	case []any:
		for i := range t {
			t[i] = walk(t[i])
		}
		return t
	case string:
		return String(t)
	case json.Number:
		if luhn(t.String()) && !strings.ContainsAny(t.String(), ".eE-") {
			return Marker
		}
		return t
	}
	return v
}

// Headers flattens request headers for storage, redacting sensitive ones by name and value.
func Headers(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		lower := strings.ToLower(name)
		if SensitiveName(lower) || lower == "x-api-key" {
			out[lower] = Marker
			continue
		}
		out[lower] = String(strings.Join(h[name], ", "))
	}
	return out
}
