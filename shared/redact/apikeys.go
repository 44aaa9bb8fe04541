package redact

import "strings"

// apiKeys redacts our API keys in any spelling a leak takes: the scheme
// ua_live_ in any case, its underscores as they are or escaped (%5F,
// \u005f), and the 64 hex digits after it with spaces, tabs or line breaks
// among them, as they are or escaped (%20, %09, %0A, %0D, +, \t, \n, \r,
// \u0020) — a key wrapped across lines, pasted with a stray space, cut in
// halves. It takes no more than 64 hex digits, and never a gap that no
// digit follows, so the text after a key stays.
func apiKeys(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		end, ok := keyAt(s, i)
		if !ok {
			i++
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(Marker)
		last, i = end, end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// keyAt reports whether a key starts at s[i], and where it ends.
func keyAt(s string, i int) (int, bool) {
	j, ok := word(s, i, "ua")
	if !ok {
		return 0, false
	}
	if j, ok = underscore(s, j); !ok {
		return 0, false
	}
	if j, ok = word(s, j, "live"); !ok {
		return 0, false
	}
	if j, ok = underscore(s, j); !ok {
		return 0, false
	}
	digits, end := 0, j
	for digits < 64 && j < len(s) {
		if isHex(s[j]) {
			digits++
			j++
			end = j
			continue
		}
		g := gap(s, j)
		if g == 0 {
			break
		}
		j += g // taken only if a digit follows (end moves with digits alone)
	}
	return end, true // the scheme alone (ua_live_x) is redacted too, as before
}

// word matches w at s[i] without regard to ASCII case.
func word(s string, i int, w string) (int, bool) {
	if i+len(w) > len(s) || !strings.EqualFold(s[i:i+len(w)], w) {
		return 0, false
	}
	return i + len(w), true
}

// underscore matches "_", "%5F" or "\u005f" at s[i].
func underscore(s string, i int) (int, bool) {
	for _, u := range []string{"_", "%5f", `\u005f`} {
		if j, ok := word(s, i, u); ok {
			return j, true
		}
	}
	return 0, false
}

// gapSpellings are the spaces and line breaks a key is found split by.
var gapSpellings = []string{" ", "\t", "\n", "\r", "%20", "%09", "%0a", "%0d", "+", `\t`, `\n`, `\r`, `\u0020`, `\u0009`, `\u000a`, `\u000d`}

// gap is the length of a space or line break (as it is, or escaped) at s[i]; 0 if none.
func gap(s string, i int) int {
	for _, g := range gapSpellings {
		if j, ok := word(s, i, g); ok {
			return j - i
		}
	}
	return 0
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }
