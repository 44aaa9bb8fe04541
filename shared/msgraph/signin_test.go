package msgraph_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/uniasset/integrations/shared/msgraph"
)

// The sign-in against the fake: the code comes back to the reply URL and
// redeems, with the PKCE verifier, for the signed-in user's identity.
func TestSignInRedeemsForTheIdentity(t *testing.T) {
	fake, tokens, _ := loginSetup(t)
	dir := demo()
	fake.SignInAs(dir, "", false)
	app := tokens.App
	verifier := oauth2.GenerateVerifier()
	u := app.SignInURL("organizations", "https://app.example/cb", "st", "nonce-1", verifier)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || back.Host != "app.example" || back.Query().Get("state") != "st" {
		t.Fatalf("sign-in answered %d to %s", resp.StatusCode, back)
	}
	code := back.Query().Get("code")
	if _, err := app.Redeem(context.Background(), nil, "organizations", "https://app.example/cb", code, "wrong-verifier-"+verifier[:30], "nonce-1", time.Now()); err == nil {
		t.Fatal("a code redeemed without its verifier")
	}
	// The failed try used the code up, as Microsoft does: sign in again.
	resp, err = noFollow.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, _ = url.Parse(resp.Header.Get("Location"))
	id, err := app.Redeem(context.Background(), nil, "organizations", "https://app.example/cb", back.Query().Get("code"), verifier, "nonce-1", time.Now())
	if err != nil || id.TenantID != dir.Org.ID || id.ObjectID != dir.Users[0].ID || id.Username != dir.Users[0].UserPrincipalName {
		t.Fatalf("identity %+v, %v", id, err)
	}
}

// An ID token that does not name a sign-in to this app, with this nonce,
// from the user's own tenant, is refused.
func TestRedeemChecksTheIDToken(t *testing.T) {
	const tid = "11111111-2222-4333-8444-555555555555"
	var root string
	good := func() map[string]any {
		return map[string]any{"aud": "app-1", "iss": root + "/" + tid + "/v2.0", "tid": tid, "oid": "66666666-7777-4888-9999-000000000000",
			"nonce": "n-1", "exp": time.Now().Add(time.Hour).Unix(), "preferred_username": "admin@contoso.example"}
	}
	enc := func(claims map[string]any) string {
		raw, _ := json.Marshal(claims)
		return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(raw) + ".c2ln"
	}
	with := func(k string, v any) string {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return enc(c)
	}
	var idToken string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		body := map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600}
		if idToken != "" {
			body["id_token"] = idToken
		}
		_ = json.NewEncoder(w).Encode(body)
	}))
	defer srv.Close()
	root = srv.URL
	app := msgraph.App{ClientID: "app-1", ClientSecret: "s", LoginURL: srv.URL}
	redeem := func() (msgraph.Identity, error) {
		return app.Redeem(context.Background(), nil, "organizations", "https://app.example/cb", "code", "v", "n-1", time.Now())
	}
	idToken = enc(good())
	if id, err := redeem(); err != nil || id.TenantID != tid || id.Username != "admin@contoso.example" || id.CanConsent() {
		t.Fatalf("a good token (no roles): %+v %v", id, err)
	}
	for roles, can := range map[string]bool{
		msgraph.RoleGlobalAdministrator: true, strings.ToUpper(msgraph.RolePrivilegedRoleAdministrator): true,
		"9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": false, // Application Administrator: cannot grant Graph app roles
	} {
		idToken = with("wids", []string{"b79fbf4d-3ef9-4689-8143-76b194e85509", roles})
		if id, err := redeem(); err != nil || id.CanConsent() != can {
			t.Errorf("wids %s: can consent %v, %v; want %v", roles, id.CanConsent(), err, can)
		}
	}
	for name, tok := range map[string]string{
		"none":            "",
		"not a JWT":       "abc",
		"not base64":      "a.%%%.c",
		"not JSON":        "a." + base64.RawURLEncoding.EncodeToString([]byte("[1]")) + ".c",
		"another app":     with("aud", "app-2"),
		"another nonce":   with("nonce", "n-2"),
		"no nonce":        with("nonce", nil),
		"no tenant":       with("tid", nil),
		"no user":         with("oid", nil),
		"another issuer":  with("iss", "https://login.example/"+tid+"/v2.0"),
		"another tenant":  with("tid", "99999999-2222-4333-8444-555555555555"),
		"expired":         with("exp", time.Now().Add(-time.Minute).Unix()),
		"no expiry":       with("exp", nil),
		"aud of a number": with("aud", 1),
	} {
		idToken = tok
		if _, err := redeem(); !errors.Is(err, msgraph.ErrIdentity) {
			t.Errorf("%s: %v, want ErrIdentity", name, err)
		}
	}
	if strings.Contains(app.SignInURL("organizations", "https://app.example/cb", "s", "n", oauth2.GenerateVerifier()), "code_verifier") {
		t.Fatal("the sign-in URL carries the verifier itself")
	}
}
