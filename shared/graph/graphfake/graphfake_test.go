package graphfake

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// What Graph refuses, the fake refuses the same way: no token, an unknown
// token, a method or filter it does not serve.
func TestRefusals(t *testing.T) {
	s := New()
	s.Grant("ok", &Directory{})
	for _, c := range []struct {
		method, path, token string
		status              int
		code                string
	}{
		{"GET", "/v1.0/groups", "", 401, "InvalidAuthenticationToken"},
		{"GET", "/v1.0/groups", "stolen", 401, "InvalidAuthenticationToken"},
		{"POST", "/v1.0/groups", "ok", 405, "Request_BadRequest"},
		{"GET", "/v1.0/groups?$filter=" + "mailEnabled%20eq%20true", "ok", 400, "Request_UnsupportedQuery"},
		{"GET", "/v1.0/users", "ok", 400, "BadRequest"},
		{"GET", "/v1.0/groups/x/transitiveMembers/microsoft.graph.user", "ok", 404, "Request_ResourceNotFound"},
	} {
		r := httptest.NewRequest(c.method, c.path, nil)
		if c.token != "" {
			r.Header.Set("Authorization", "Bearer "+c.token)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != c.status || !strings.Contains(w.Body.String(), `"code":"`+c.code+`"`) {
			t.Errorf("%s %s: %d %s", c.method, c.path, w.Code, w.Body)
		}
	}
	s.Throttle(1)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/v1.0/groups", nil))
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
		t.Errorf("throttled: %d %v", w.Code, w.Header())
	}
}
