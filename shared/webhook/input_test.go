package webhook

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/safehttp"
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

// A webhook is created active unless the body asks for paused; no other
// status is accepted.
func TestCreateStatus(t *testing.T) {
	p := safehttp.Policy{AllowPrivate: true}
	for given, want := range map[string]string{"": Active, "active": Active, "paused": Paused} {
		in := CreateInput{Name: "n", URL: "http://127.0.0.1:9/hook", Events: []string{"asset.created"}, Status: given}
		if err := in.Validate(context.Background(), p); err != nil || in.Status != want {
			t.Errorf("%q: %v, status %q", given, err, in.Status)
		}
	}
	for _, bad := range []string{"disabled", "Paused", " paused"} {
		in := CreateInput{Name: "n", URL: "http://127.0.0.1:9/hook", Events: []string{"asset.created"}, Status: bad}
		e, ok := apierror.From(in.Validate(context.Background(), p))
		if !ok || len(e.Fields) != 1 || e.Fields[0].Field != "status" {
			t.Errorf("%q: %+v", bad, e)
		}
	}
}

// A caller's own secret is taken in the Standard Webhooks form only.
func TestCreateSecret(t *testing.T) {
	p := safehttp.Policy{AllowPrivate: true}
	ok24 := "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 24))
	ok64 := "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 64))
	for secret, valid := range map[string]bool{
		ok24: true, ok64: true,
		"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 23)):    false, // too short
		"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65)):    false, // too long
		strings.TrimPrefix(ok24, "whsec_"):                                false, // no prefix
		"whsec_" + base64.RawStdEncoding.EncodeToString(make([]byte, 25)): false, // unpadded
		ok24 + "\n":                false,
		"whsec_not base64 at all!": false,
		"":                         false,
	} {
		s := secret
		in := CreateInput{Name: "n", URL: "http://127.0.0.1:9/hook", Events: []string{"asset.created"}, Secret: &s}
		err := in.Validate(context.Background(), p)
		if e, _ := apierror.From(err); (err == nil) != valid || (!valid && (len(e.Fields) != 1 || e.Fields[0].Field != "secret")) {
			t.Errorf("%q: %v, want valid=%v", secret, err, valid)
		}
	}
}
