package msgraph

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Scope is what the app asks Microsoft's token endpoint for: the
// application permissions an admin consented to.
const Scope = "https://graph.microsoft.com/.default"

// App is the multi-tenant Entra app the sync signs in as.
type App struct {
	ClientID     string
	ClientSecret string
	// LoginURL is Microsoft's login root, https://login.microsoftonline.com,
	// or a fake's.
	LoginURL string
}

// Tokens hands out clients for Microsoft tenants, each with a
// client-credentials token for that tenant, kept until it expires (one
// token request per tenant per hour, not per call).
type Tokens struct {
	App  App
	Base *http.Client // the transport under the token; nil for http.DefaultClient

	mu      sync.Mutex
	sources map[string]oauth2.TokenSource
}

// HTTPClient is an HTTP client whose requests carry a token for tenantID
// (a Microsoft tenant id).
func (t *Tokens) HTTPClient(tenantID string) *http.Client {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sources == nil {
		t.sources = map[string]oauth2.TokenSource{}
	}
	src, ok := t.sources[tenantID]
	if !ok {
		src = t.source(tenantID, nil)
		t.sources[tenantID] = src
	}
	return &http.Client{Transport: &oauth2.Transport{Source: src, Base: transportOf(t.Base)}}
}

// Fresh is HTTPClient with a token issued now, asked for within ctx (a
// cached source asks with no context, so a hanging token endpoint would
// hold the caller until the HTTP client's own timeout). The token is cached
// for later callers.
func (t *Tokens) Fresh(ctx context.Context, tenantID string) (*http.Client, error) {
	cfg := t.config(tenantID)
	tok, err := cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, t.base()))
	if err != nil {
		return nil, err
	}
	src := t.source(tenantID, tok)
	t.mu.Lock()
	if t.sources == nil {
		t.sources = map[string]oauth2.TokenSource{}
	}
	t.sources[tenantID] = src
	t.mu.Unlock()
	return &http.Client{Transport: &oauth2.Transport{Source: src, Base: transportOf(t.Base)}}, nil
}

func (t *Tokens) config(tenantID string) clientcredentials.Config {
	return clientcredentials.Config{
		ClientID: t.App.ClientID, ClientSecret: t.App.ClientSecret, Scopes: []string{Scope},
		TokenURL:  strings.TrimSuffix(t.App.LoginURL, "/") + "/" + tenantID + "/oauth2/v2.0/token",
		AuthStyle: oauth2.AuthStyleInParams,
	}
}

func (t *Tokens) base() *http.Client {
	if t.Base == nil {
		return http.DefaultClient
	}
	return t.Base
}

// source renews tenantID's token when it expires, starting from tok (nil:
// none yet). It outlives the request that made it: its context carries
// only the HTTP client.
func (t *Tokens) source(tenantID string, tok *oauth2.Token) oauth2.TokenSource {
	cfg := t.config(tenantID)
	return oauth2.ReuseTokenSource(tok, cfg.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, t.base())))
}

func transportOf(c *http.Client) http.RoundTripper {
	if c != nil && c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}

// Forget drops a tenant's cached token (after Graph refused it).
func (t *Tokens) Forget(tenantID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.sources, tenantID)
}

// NoConsent reports whether err is Microsoft's token endpoint refusing the
// app for the tenant: consent never given or withdrawn, or the app's
// credentials wrong (400/401 with an OAuth2 error such as
// unauthorized_client, invalid_client or invalid_grant). Such a
// connection needs an Owner to re-authenticate.
func NoConsent(err error) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.Response != nil && (re.Response.StatusCode == http.StatusBadRequest || re.Response.StatusCode == http.StatusUnauthorized)
}
