package msgraph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// SignInScopes are what the sign-in asks for: an ID token naming the user
// and their Microsoft tenant, nothing to call an API with.
var SignInScopes = []string{"openid", "profile"}

// Identity is the signed-in user of an ID token.
type Identity struct {
	TenantID string   // tid: the Microsoft tenant the user signed in to
	ObjectID string   // oid: the user's object id in that tenant
	Name     string   // name
	Username string   // preferred_username (display only: it can be changed)
	Roles    []string // wids: the directory roles (template ids) the user holds
}

// Directory role template ids (the same in every tenant). Only these two
// can grant an app Microsoft Graph application permissions tenant-wide;
// Application and Cloud Application Administrators cannot.
const (
	RoleGlobalAdministrator         = "62e90394-69f5-4237-9190-012177145e10"
	RolePrivilegedRoleAdministrator = "e8611ab8-c189-46e8-94e1-60213ab1f814"
)

// CanConsent reports whether the identity holds a role that can grant the
// app's admin consent.
func (id Identity) CanConsent() bool {
	for _, r := range id.Roles {
		if strings.EqualFold(r, RoleGlobalAdministrator) || strings.EqualFold(r, RolePrivilegedRoleAdministrator) {
			return true
		}
	}
	return false
}

// ErrIdentity is an ID token that does not name a sign-in to this app.
var ErrIdentity = errors.New("graph: the ID token does not hold")

// signInConfig is the OpenID Connect authorization-code flow of the app
// against tenant ("organizations" for any work account, or a tenant id).
func (a App) signInConfig(tenant, redirectURI string) *oauth2.Config {
	root := strings.TrimSuffix(a.LoginURL, "/") + "/" + tenant + "/oauth2/v2.0/"
	return &oauth2.Config{
		ClientID: a.ClientID, ClientSecret: a.ClientSecret, RedirectURL: redirectURI, Scopes: SignInScopes,
		Endpoint: oauth2.Endpoint{AuthURL: root + "authorize", TokenURL: root + "token", AuthStyle: oauth2.AuthStyleInParams},
	}
}

// SignInURL is Microsoft's sign-in page for the app: the code comes back to
// redirectURI with state; nonce ends up in the ID token; verifier is the
// PKCE secret the code is redeemed with (RFC 7636, S256).
func (a App) SignInURL(tenant, redirectURI, state, nonce, verifier string) string {
	return a.signInConfig(tenant, redirectURI).AuthCodeURL(state,
		oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("nonce", nonce),
		oauth2.SetAuthURLParam("response_mode", "query"),
		oauth2.SetAuthURLParam("prompt", "select_account"))
}

// Redeem exchanges a sign-in's code at the token endpoint and returns who
// signed in. The ID token comes straight from Microsoft's token endpoint
// over TLS, in exchange for the app's secret and the PKCE verifier, so its
// issuer is established by that channel (OpenID Connect Core 3.1.3.7) and
// its signature is not checked again; its audience, issuer, nonce and
// expiry are.
func (a App) Redeem(ctx context.Context, hc *http.Client, tenant, redirectURI, code, verifier, nonce string, now time.Time) (Identity, error) {
	if hc != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	}
	tok, err := a.signInConfig(tenant, redirectURI).Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return Identity{}, err
	}
	raw, _ := tok.Extra("id_token").(string)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return Identity{}, fmt.Errorf("%w: the token endpoint returned no ID token", ErrIdentity)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return Identity{}, fmt.Errorf("%w: its payload is not base64url", ErrIdentity)
	}
	var c struct {
		Aud      string   `json:"aud"`
		Iss      string   `json:"iss"`
		Tid      string   `json:"tid"`
		Oid      string   `json:"oid"`
		Nonce    string   `json:"nonce"`
		Exp      int64    `json:"exp"`
		Name     string   `json:"name"`
		Username string   `json:"preferred_username"`
		Wids     []string `json:"wids"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return Identity{}, fmt.Errorf("%w: its payload is not the claims expected", ErrIdentity)
	}
	switch {
	case c.Aud != a.ClientID:
		return Identity{}, fmt.Errorf("%w: it was issued to another app", ErrIdentity)
	case c.Nonce == "" || c.Nonce != nonce:
		return Identity{}, fmt.Errorf("%w: its nonce is not this sign-in's", ErrIdentity)
	case c.Tid == "" || c.Oid == "":
		return Identity{}, fmt.Errorf("%w: it names no tenant or user", ErrIdentity)
	case c.Iss != strings.TrimSuffix(a.LoginURL, "/")+"/"+c.Tid+"/v2.0":
		return Identity{}, fmt.Errorf("%w: its issuer is not the user's tenant", ErrIdentity)
	case c.Exp == 0 || now.Unix() > c.Exp:
		return Identity{}, fmt.Errorf("%w: it has no expiry or has expired", ErrIdentity)
	}
	return Identity{TenantID: strings.ToLower(c.Tid), ObjectID: strings.ToLower(c.Oid), Name: c.Name, Username: c.Username, Roles: c.Wids}, nil
}

// User reads one user of the directory by object id.
func (c *Client) User(ctx context.Context, id string) (User, error) {
	var m User
	err := c.get(ctx, strings.TrimSuffix(c.BaseURL, "/")+"/users/"+url.PathEscape(id)+"?$select=id,userType,accountEnabled", &m)
	return m, err
}
