package msgraph_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/msgraph"
	"github.com/uniasset/integrations/shared/msgraph/msgraphfake"
)

func loginSetup(t *testing.T) (*msgraphfake.Server, *msgraph.Tokens, string) {
	t.Helper()
	fake := msgraphfake.New()
	fake.ClientID, fake.ClientSecret = "app-1", "secret-1"
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	fake.BaseURL = srv.URL + "/v1.0"
	return fake, &msgraph.Tokens{App: msgraph.App{ClientID: "app-1", ClientSecret: "secret-1", LoginURL: srv.URL}}, srv.URL + "/v1.0"
}

// A consented tenant's directory is read with a client-credentials token,
// requested once and reused until it expires.
func TestClientCredentialsTokenPerTenant(t *testing.T) {
	fake, tokens, base := loginSetup(t)
	fake.Consent(demo())
	c := &msgraph.Client{HTTP: tokens.HTTPClient("tid-1"), BaseURL: base}
	for range 3 {
		if org, err := c.Organization(context.Background()); err != nil || org.ID != "tid-1" {
			t.Fatalf("organization: %+v %v", org, err)
		}
	}
	c2 := &msgraph.Client{HTTP: tokens.HTTPClient("tid-1"), BaseURL: base}
	if _, err := c2.SecurityGroups(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := fake.TokensIssued(); n != 1 {
		t.Fatalf("%d tokens requested for four reads of one tenant, want 1", n)
	}
}

// No consent, consent withdrawn, or the app's secret wrong: the token
// endpoint refuses, and NoConsent says so (the connection needs an Owner).
func TestRefusedTokens(t *testing.T) {
	fake, tokens, base := loginSetup(t)
	ctx := context.Background()
	if _, err := (&msgraph.Client{HTTP: tokens.HTTPClient("tid-never"), BaseURL: base}).Organization(ctx); !msgraph.NoConsent(err) {
		t.Fatalf("a tenant that never consented: %v", err)
	}
	fake.Consent(demo())
	c := &msgraph.Client{HTTP: tokens.HTTPClient("tid-1"), BaseURL: base}
	if _, err := c.Organization(ctx); err != nil {
		t.Fatal(err)
	}
	fake.Withdraw("tid-1")
	if _, err := c.Organization(ctx); !msgraph.Unauthorized(err) {
		t.Fatalf("a token issued before consent was withdrawn: %v", err)
	}
	tokens.Forget("tid-1")
	if _, err := (&msgraph.Client{HTTP: tokens.HTTPClient("tid-1"), BaseURL: base}).Organization(ctx); !msgraph.NoConsent(err) {
		t.Fatalf("a new token after consent was withdrawn: %v", err)
	}
	fake.Consent(demo())
	wrong := &msgraph.Tokens{App: msgraph.App{ClientID: "app-1", ClientSecret: "old-secret", LoginURL: tokens.App.LoginURL}}
	if _, err := (&msgraph.Client{HTTP: wrong.HTTPClient("tid-1"), BaseURL: base}).Organization(ctx); !msgraph.NoConsent(err) {
		t.Fatalf("a wrong client secret: %v", err)
	}
}

// A fresh token is asked for within the caller's context: a token endpoint
// that hangs fails the caller at its deadline (a cached source would wait
// for the HTTP client's own timeout). The token it gets is reused.
func TestFreshTokenWithinTheCallersDeadline(t *testing.T) {
	fake, tokens, base := loginSetup(t)
	fake.Consent(demo())
	fake.Hang(msgraphfake.TokenEndpoint)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := tokens.Fresh(ctx, "tid-1"); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second || fake.Hung() != 1 {
		t.Fatalf("err %v after %v (%d hung)", err, time.Since(start), fake.Hung())
	}
	fake.Hang()
	hc, err := tokens.Fresh(context.Background(), "tid-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []*http.Client{hc, tokens.HTTPClient("tid-1")} {
		if _, err := (&msgraph.Client{HTTP: h, BaseURL: base}).Organization(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := fake.TokensIssued(); n != 1 {
		t.Fatalf("%d tokens issued, want 1", n)
	}
}
