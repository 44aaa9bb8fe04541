package redact

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// Whatever the text, redaction is stable (redacting its own output changes
// nothing), keeps valid UTF-8 valid, and a card number or key placed in it
// between non-digits does not survive.
func FuzzRedact(f *testing.F) {
	for _, seed := range []string{
		`{"password":"x","n":4111111111111111}`, `SN4111111111111111`, `4111.1111.1111.1111`, `password=x&y=1`,
		`{"4111 1111 1111 1111":1}`, `{"pwd":"x`, "٤١١١١١١١١١١١١١١١", "bearer abc", "{\"a\":\"\xff\"}", ``, `[1,2,3]`,
	} {
		f.Add(seed, "a", "b")
	}
	f.Fuzz(func(t *testing.T, s, before, after string) {
		for _, out := range []string{String(s), JSON([]byte(s))} {
			if utf8.ValidString(s) && !utf8.ValidString(out) {
				t.Fatalf("%q redacted to invalid UTF-8 %q", s, out)
			}
		}
		if out := String(s); String(out) != out {
			t.Fatalf("String not stable: %q -> %q -> %q", s, out, String(out))
		}
		// Stable for JSON that parses. Text that does not parse is redacted as
		// text, and what that leaves can parse and be judged by name again.
		if out := JSON([]byte(s)); json.Valid([]byte(s)) && JSON([]byte(out)) != out {
			t.Fatalf("JSON not stable: %q -> %q -> %q", s, out, JSON([]byte(out)))
		}
		// Plant secrets between the fuzzer's text, away from digits and separators.
		if strings.ContainsFunc(before+after, func(r rune) bool { _, d := digitValue(r); return d || separator(r) || r > 0x7e || r < 0x20 }) {
			return
		}
		for _, secret := range []string{"4111111111111111", "ua_live_" + strings.Repeat("ab", 32)} {
			text := before + "x" + secret + "x" + after
			if out := String(text); strings.Contains(out, secret) {
				t.Fatalf("%q kept %s: %q", text, secret, out)
			}
			if out := JSON([]byte(text)); strings.Contains(out, secret) {
				t.Fatalf("%q kept %s as JSON: %q", text, secret, out)
			}
		}
	})
}
