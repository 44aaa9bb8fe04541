package msgraphfake

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// authCode is an authorization code the sign-in page issued and the token
// endpoint has not redeemed.
type authCode struct {
	dir         *Directory
	user        string
	tenant      string // the tenant segment the sign-in was asked for
	nonce       string
	redirectURI string
	challenge   string // PKCE S256 code_challenge ("" when none was sent)
	openid      bool
	issued      time.Time
}

// codeLifetime is how long a code may wait to be redeemed (Microsoft's
// are short-lived: minutes).
const codeLifetime = 10 * time.Minute

// errorPage is how Microsoft's login pages refuse a request they cannot
// send back: a page for the browser, never a redirect.
func errorPage(w http.ResponseWriter, aadsts int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, "AADSTS%d: %s\n", aadsts, msg)
}

// checkApp refuses a login request for another app or an unregistered reply
// URL; it returns the reply URL.
func (s *Server) checkApp(w http.ResponseWriter, q url.Values) (*url.URL, bool) {
	s.mu.Lock()
	redirects, clientID := s.RedirectURIs, s.ClientID
	s.mu.Unlock()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	switch {
	case q.Get("client_id") != clientID:
		errorPage(w, 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory.", q.Get("client_id")))
		return nil, false
	case err != nil || !redirect.IsAbs() || (len(redirects) > 0 && !slices.Contains(redirects, q.Get("redirect_uri"))):
		errorPage(w, 50011, "The redirect URI specified in the request does not match the redirect URIs configured for the application.")
		return nil, false
	}
	return redirect, true
}

// signedIn is who the login pages sign in, for a request to tenant (a
// tenant id, or organizations/common); ok is false (the page written) when
// nobody can sign in there.
func (s *Server) signedIn(w http.ResponseWriter, tenant string) (dir *Directory, user string, ok bool) {
	s.mu.Lock()
	dir, user = s.Admin, s.User
	s.mu.Unlock()
	switch {
	case dir == nil || (user == "" && len(dir.Users) == 0):
		errorPage(w, 50020, "User account from identity provider does not exist in tenant.")
		return nil, "", false
	case tenant != "organizations" && tenant != "common" && !strings.EqualFold(tenant, dir.Org.ID):
		errorPage(w, 50020, fmt.Sprintf("User account from identity provider does not exist in tenant '%s'.", tenant))
		return nil, "", false
	}
	if user == "" {
		user = dir.Users[0].ID
	}
	return dir, user, true
}

// authorize is Microsoft's v2.0 authorization endpoint for the
// authorization-code flow: GET /{tenant}/oauth2/v2.0/authorize with
// client_id, response_type=code, redirect_uri, scope, state, nonce and
// PKCE's code_challenge. The signed-in user (Admin's directory, User) is
// sent back to redirect_uri with code and state in the query.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, tenant string) {
	q := r.URL.Query()
	redirect, ok := s.checkApp(w, q)
	if !ok {
		return
	}
	if q.Get("response_type") != "code" {
		errorPage(w, 900144, "The request body must contain the following parameter: 'response_type' with the value 'code'.")
		return
	}
	if q.Get("code_challenge") != "" && q.Get("code_challenge_method") != "S256" {
		errorPage(w, 501491, "Invalid size of Code_Challenge parameter, or a method other than S256.")
		return
	}
	dir, user, ok := s.signedIn(w, tenant)
	if !ok {
		return
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	code := "fake-code-" + base64.RawURLEncoding.EncodeToString(b[:])
	s.mu.Lock()
	s.codes[code] = authCode{dir: dir, user: user, tenant: tenant, nonce: q.Get("nonce"), redirectURI: q.Get("redirect_uri"),
		challenge: q.Get("code_challenge"), openid: slices.Contains(strings.Fields(q.Get("scope")), "openid"), issued: time.Now()}
	s.mu.Unlock()
	back := redirect.Query()
	back.Set("code", code)
	back.Set("state", q.Get("state"))
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// redeem is the token endpoint's authorization_code grant (the client
// already authenticated): the code once, with the reply URL it was issued
// for and the PKCE verifier that matches its challenge; the answer holds an
// ID token for the signed-in user.
func (s *Server) redeem(w http.ResponseWriter, r *http.Request, f url.Values, tenant string, fail func(int, string, int, string)) {
	s.mu.Lock()
	c, ok := s.codes[f.Get("code")]
	delete(s.codes, f.Get("code"))
	s.mu.Unlock()
	sum := sha256.Sum256([]byte(f.Get("code_verifier")))
	switch {
	case !ok || time.Since(c.issued) > codeLifetime:
		fail(http.StatusBadRequest, "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity, or was already redeemed.")
		return
	case f.Get("redirect_uri") != c.redirectURI:
		fail(http.StatusBadRequest, "invalid_grant", 50011, "The redirect URI in the token request does not match the one the authorization code was issued for.")
		return
	case c.challenge != "" && base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge:
		fail(http.StatusBadRequest, "invalid_grant", 50148, "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.")
		return
	case tenant != "organizations" && tenant != "common" && !strings.EqualFold(tenant, c.dir.Org.ID):
		fail(http.StatusBadRequest, "invalid_grant", 50020, fmt.Sprintf("User account from identity provider does not exist in tenant '%s'.", tenant))
		return
	}
	body := map[string]any{"token_type": "Bearer", "scope": "openid profile", "expires_in": 3599, "ext_expires_in": 3599,
		"access_token": "fake-user-token-" + f.Get("code")}
	if c.openid {
		body["id_token"] = s.idToken(r, c)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

// idToken is a v2.0 ID token for the code's user. Its signature is a
// placeholder: a client that redeems a code at the token endpoint itself
// need not check it (OpenID Connect Core 3.1.3.7), and ours does not.
func (s *Server) idToken(r *http.Request, c authCode) string {
	name, username := "", ""
	for _, u := range c.dir.Users {
		if u.ID == c.user {
			name, username = u.DisplayName, u.UserPrincipalName
		}
	}
	now := time.Now().Unix()
	s.mu.Lock()
	clientID := s.ClientID
	s.mu.Unlock()
	claims := map[string]any{
		"ver": "2.0", "iss": "http://" + r.Host + "/" + c.dir.Org.ID + "/v2.0", "aud": clientID,
		"iat": now, "nbf": now, "exp": now + 3600, "tid": c.dir.Org.ID, "oid": c.user, "sub": "pairwise-" + c.user,
		"name": name, "preferred_username": username,
	}
	if c.nonce != "" {
		claims["nonce"] = c.nonce
	}
	// An app whose registration asks for directory roles in its tokens
	// (groupMembershipClaims: DirectoryRole) gets them as wids.
	if roles := c.dir.rolesOf(c.user); len(roles) > 0 {
		claims["wids"] = roles
	}
	enc := func(v any) string {
		raw, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(raw)
	}
	return enc(map[string]string{"typ": "JWT", "alg": "RS256", "kid": "fake"}) + "." + enc(claims) + "." +
		base64.RawURLEncoding.EncodeToString([]byte("fake-signature"))
}
