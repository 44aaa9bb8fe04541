package httpapi

import (
	"net/http/httptest"
	"testing"

	"github.com/uniasset/integrations/shared/apierror"
)

// Every JSON answer, success or error, carries the same headers; a throttled
// one says when to retry.
func TestResponsesCarryTheSameHeaders(t *testing.T) {
	for _, c := range []struct {
		name       string
		write      func(*httptest.ResponseRecorder)
		status     int
		retryAfter string
	}{
		{"json", func(w *httptest.ResponseRecorder) { WriteJSON(w, 201, map[string]string{"a": "b"}) }, 201, ""},
		{"error", func(w *httptest.ResponseRecorder) {
			WriteError(w, httptest.NewRequest("GET", "/", nil), apierror.New(apierror.NotFound, "no"))
		}, 404, ""},
		{"throttled", func(w *httptest.ResponseRecorder) {
			WriteError(w, httptest.NewRequest("GET", "/", nil), apierror.New(apierror.Throttled, "slow down"))
		}, 503, "1"},
		{"raw body", func(w *httptest.ResponseRecorder) { WriteBody(w, 503, []byte(`{}`), apierror.Throttled) }, 503, "1"},
	} {
		w := httptest.NewRecorder()
		c.write(w)
		h := w.Header()
		if w.Code != c.status || h.Get("Content-Type") != "application/json" || h.Get("Cache-Control") != "no-store" ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Retry-After") != c.retryAfter {
			t.Errorf("%s: %d %v", c.name, w.Code, h)
		}
	}
}
