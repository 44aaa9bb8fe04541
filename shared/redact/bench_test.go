package redact

import (
	"strings"
	"testing"
)

// Bodies of up to 64 KiB are redacted on every API call; these are the
// shapes that cost most (long runs of name characters, digits and separators,
// many candidate names), at the limit.
func BenchmarkRedactWorstCase64KiB(b *testing.B) {
	const size = 64 << 10
	fill := func(unit string) string { return strings.Repeat(unit, size/len(unit)) }
	for name, s := range map[string]string{
		"letters":        fill("a"),
		"digits":         fill("4"),
		"digit-groups":   fill("1 "),
		"unicode-digits": fill("٤"),
		"names":          fill("pwd="),
		"quoted-names":   fill(`"pwd":"`),
		"card-keys":      "{" + fill(`"4111111111111111":1,`) + `"a":1}`,
		"huge-exponents": "[" + fill("4e999999,") + "1]",
	} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				JSON([]byte(s))
			}
		})
	}
}
