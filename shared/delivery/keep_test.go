package delivery

import (
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
