package redact

import (
	"net/http"
	"strings"
	"testing"
)

func TestJSONRedactsByNameAtAnyDepth(t *testing.T) {
	in := `{"name":"Forklift","password":"p1","nested":{"list":[{"client_secret":"s2","ok":"fine"}],"Api-Key":"k3"},"accessToken":"t4","shipping":"kept","description":"ok"}`
	out := JSON([]byte(in))
	for _, secret := range []string{"p1", "s2", "k3", "t4"} {
		if strings.Contains(out, `"`+secret+`"`) {
			t.Errorf("%s survived: %s", secret, out)
		}
	}
	for _, kept := range []string{"Forklift", "fine", `"shipping":"kept"`, `"description":"ok"`} {
		if !strings.Contains(out, kept) {
			t.Errorf("%s was redacted: %s", kept, out)
		}
	}
}

func TestJSONRedactsByValue(t *testing.T) {
	key := "ua_live_" + strings.Repeat("ab", 32)
	in := `{"note":"my key is ` + key + `","card":4111111111111111,"spaced":"4111 1111 1111 1111","order":1234567890123,"auth":"Bearer abc.def","whsec":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`
	out := JSON([]byte(in))
	for _, secret := range []string{key, "4111111111111111", "4111 1111 1111 1111", "abc.def", "whsec_MfKQ"} {
		if strings.Contains(out, secret) {
			t.Errorf("%s survived: %s", secret, out)
		}
	}
	// 1234567890123 fails the Luhn check: an order number, not a card.
	if !strings.Contains(out, "1234567890123") {
		t.Errorf("a non-card number was redacted: %s", out)
	}
}

func TestNotJSONStillRedacted(t *testing.T) {
	key := "ua_live_" + strings.Repeat("cd", 32)
	out := JSON([]byte(`{"broken": "` + key))
	if strings.Contains(out, key) {
		t.Fatalf("key survived in malformed body: %s", out)
	}
}

func TestHeaders(t *testing.T) {
	h := http.Header{}
	h.Set("Authorization", "Bearer ua_live_x")
	h.Set("Cookie", "session=1")
	h.Set("X-Api-Key", "k")
	h.Set("Content-Type", "application/json")
	h.Set("X-Custom", "Bearer leaked-token")
	got := Headers(h)
	for _, name := range []string{"authorization", "cookie", "x-api-key"} {
		if got[name] != Marker {
			t.Errorf("%s = %q", name, got[name])
		}
	}
	if got["content-type"] != "application/json" || strings.Contains(got["x-custom"], "leaked-token") {
		t.Errorf("headers: %v", got)
	}
}

func TestLuhn(t *testing.T) {
	for s, want := range map[string]bool{"4111111111111111": true, "4111111111111112": false, "79927398713": false, "5555 5555 5555 4444": true} {
		if luhn(s) != want {
			t.Errorf("luhn(%q) = %v", s, !want)
		}
	}
}
