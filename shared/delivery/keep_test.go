package delivery

import (
	"errors"
	"strings"
	"testing"
)

// What a receiver answers is stored for the Activity Log with its secrets
// redacted by name as well as by value, whole or cut short.
func TestKeptResponsesAreRedactedByName(t *testing.T) {
	for _, body := range []string{
		`{"ok":true,"password":"hunter2","nested":{"refresh_token":"hunter2"}}`,
		`{"ok":true,"password":"hunter2","padding":"` + strings.Repeat("x", keptResponse) + `"}`, // cut at keptResponse
		"<html>password=hunter2</html>",
		"{\"pwd\":\"hunter2\xff\"}",
	} {
		raw := []byte(body)
		if len(raw) > keptResponse {
			raw = raw[:keptResponse]
		}
		if out := keep(raw); strings.Contains(out, "hunter2") {
			t.Errorf("kept %q", out)
		}
	}
}

// What a receiver controls in a transport error (a malformed header line it
// sent) is redacted before the activity log stores it.
func TestTransportErrorsAreRedacted(t *testing.T) {
	key := "ua_live_" + strings.Repeat("ab", 32)
	err := describe(errors.New(`net/http: HTTP/1.x transport connection broken: malformed MIME header line: card 4111111111111111 key ` + key + ` password=hunter2`))
	for _, secret := range []string{"4111111111111111", key, "hunter2"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("stored %q", err.Error())
		}
	}
}

// A body cut at the limit in the middle of a card keeps none of its digits.
func TestCutBodiesDropTheDigitsTheyWereCutIn(t *testing.T) {
	body := strings.Repeat("x", keptResponse-10) + "4111111111111111"
	if out := keep([]byte(body)[:keptResponse]); strings.Contains(out, "4111") {
		t.Errorf("kept the start of a card: %q", out[len(out)-20:])
	}
}
