package webhook

import (
	"testing"

	"github.com/uniasset/integrations/shared/apierror"
)

// Custom header values are sent to the receiver as they are: nothing that
// reorders, hides or breaks lines.
func TestHeaderValuesRefuseInvisibleAndControlCharacters(t *testing.T) {
	for value, ok := range map[string]bool{
		"token-123":        true,
		"a\tb":             true,
		"v\u0085w":         false, // NEL, a C1 control
		"v\u202ew":         false, // RIGHT-TO-LEFT OVERRIDE
		"v\u200bw":         false, // ZERO WIDTH SPACE
		"v\r\nX-Evil: 1":   false,
		"v\x7f":            false,
		"\xff":             false,
		"caf\u00e9 \u2713": true,
	} {
		c := &checker{}
		c.headers(map[string]string{"X-A": value})
		e, _ := apierror.From(c.Err())
		if got := c.Err() == nil; got != ok {
			t.Errorf("%q: accepted=%v, want %v (%v)", value, got, ok, e)
		}
	}
}
