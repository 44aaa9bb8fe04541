package delivery

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/safehttp"
	"github.com/uniasset/integrations/shared/webhook"
)

// Each way an endpoint can answer a challenge, and what the Owner is told.
func TestChallenge(t *testing.T) {
	t.Parallel()
	const value = "the-challenge"
	cases := []struct {
		name   string
		answer func(w http.ResponseWriter, r *http.Request)
		want   string // "" verifies; else a part of the error
	}{
		{"echo", func(w http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(w).Encode(map[string]string{"verification": r.Header.Get(ChallengeHeader)})
		}, ""},
		{"echo with other fields, any 2xx", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			_ = json.NewEncoder(w).Encode(map[string]any{"verification": r.Header.Get(ChallengeHeader), "ok": true})
		}, ""},
		{"wrong value", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"verification":"guess"}`))
		}, "does not match"},
		{"value as the raw body", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(r.Header.Get(ChallengeHeader)))
		}, "not a JSON object"},
		{"no verification field", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"ok":true}`))
		}, "not a JSON object"},
		{"verification not a string", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"verification":1}`))
		}, "not a JSON object"},
		{"error status with the echo", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			_ = json.NewEncoder(w).Encode(map[string]string{"verification": r.Header.Get(ChallengeHeader)})
		}, "HTTP 500"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example/", http.StatusFound)
		}, "HTTP 302"},
		{"oversized", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"verification":"` + r.Header.Get(ChallengeHeader) + `","pad":"` + strings.Repeat("x", 5000) + `"}`))
		}, "over 4096 bytes"},
		{"too slow", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, "timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			headers := make(chan http.Header, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet {
					t.Errorf("a challenge is a GET, got %s", r.Method)
				}
				headers <- r.Header.Clone()
				c.answer(w, r)
			}))
			defer srv.Close()
			client := safehttp.Policy{AllowPrivate: true}.Client(200 * time.Millisecond)
			hook := webhook.Webhook{URL: srv.URL + "/hooks", Headers: map[string]string{"Authorization": "Bearer receiver-token"}}
			err := Challenge(context.Background(), client, hook, value)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v, want an error saying %q", err, c.want)
			}
			got := <-headers
			if got.Get(ChallengeHeader) != value || got.Get("Authorization") != "Bearer receiver-token" || got.Get("User-Agent") != userAgent {
				t.Fatalf("the challenge carried %v", got)
			}
		})
	}
}

// The address rules of deliveries hold: a private address is refused
// before anything is sent.
func TestChallengeRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	asked := false
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { asked = true }))
	defer srv.Close()
	err := Challenge(context.Background(), safehttp.Policy{}.Client(time.Second), webhook.Webhook{URL: srv.URL}, "v")
	if err == nil || !strings.Contains(err.Error(), "non-public") || asked {
		t.Fatalf("a challenge to %s: %v (reached: %v)", srv.URL, err, asked)
	}
}

// Challenges differ and are long enough not to be guessed.
func TestNewChallenge(t *testing.T) {
	t.Parallel()
	a, b := NewChallenge(), NewChallenge()
	if a == b || len(a) < 43 {
		t.Fatalf("challenges %q and %q", a, b)
	}
}
