package msgraphfake

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/uniasset/integrations/shared/msgraph"
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

// The token endpoint refuses as Microsoft's does: wrong grant, scope,
// client or secret, and a tenant without consent.
func TestTokenEndpointRefusals(t *testing.T) {
	s := New()
	s.ClientID, s.ClientSecret = "app", "secret"
	s.Consent(&Directory{Org: msgraph.Organization{ID: "tid"}})
	ok := url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"secret"}, "scope": {msgraph.Scope}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for key, vals := range ok {
			f[key] = vals
		}
		f.Set(k, v)
		return f
	}
	for _, c := range []struct {
		tenant string
		form   url.Values
		status int
		code   string
	}{
		{"tid", ok, 200, ""},
		{"tid", with("grant_type", "password"), 400, "unsupported_grant_type"},
		{"tid", with("scope", "User.Read"), 400, "invalid_scope"},
		{"tid", with("client_id", "other"), 400, "unauthorized_client"},
		{"tid", with("client_secret", "guess"), 401, "invalid_client"},
		{"other-tenant", ok, 400, "unauthorized_client"},
	} {
		r := httptest.NewRequest("POST", "/"+c.tenant+"/oauth2/v2.0/token", strings.NewReader(c.form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != c.status || (c.code != "" && !strings.Contains(w.Body.String(), `"error":"`+c.code+`"`)) || (c.code == "" && !strings.Contains(w.Body.String(), "access_token")) {
			t.Errorf("%s %v: %d %s", c.tenant, c.form, w.Code, w.Body)
		}
	}
	if s.TokensIssued() != 1 {
		t.Errorf("%d tokens issued, want 1", s.TokensIssued())
	}
}

// The demo directory is what README's walk-through promises: 27 enabled
// users reachable from the three mapped groups (nested groups included),
// one disabled, one group that is not a security group.
func TestDemoDirectory(t *testing.T) {
	d := Demo()
	reach := map[string]bool{}
	for _, g := range []string{"10000000-0000-4000-8000-000000000001", "10000000-0000-4000-8000-000000000002", "10000000-0000-4000-8000-000000000003"} {
		users, ok := d.transitiveUsers(g)
		if !ok {
			t.Fatalf("group %s missing", g)
		}
		for _, u := range users {
			if u.(msgraph.User).AccountEnabled {
				reach[u.(msgraph.User).ID] = true
			}
		}
	}
	if len(reach) != 27 {
		t.Fatalf("%d enabled users in the mapped groups, want 27", len(reach))
	}
}
