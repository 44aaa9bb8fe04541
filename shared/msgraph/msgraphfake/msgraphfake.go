// Package graphfake is a fake Microsoft Graph for tests and the local
// stack: a directory per Microsoft tenant, served as Graph documents it —
// collections paged through @odata.nextLink, $select honoured, errors as
// {"error":{"code","message"}}, 401 InvalidAuthenticationToken for a token
// it does not accept — with faults to inject: throttling (429 with
// Retry-After), revoked tokens, failing pages, and endpoints that hang.
package msgraphfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/uniasset/integrations/shared/msgraph"
)

// Group is a group of the fake directory; Members are user or group ids.
type Group struct {
	msgraph.Group
	Security bool
	Members  []string
}

// Directory is one Microsoft tenant's directory.
type Directory struct {
	Org    msgraph.Organization
	Groups []Group
	Users  []msgraph.User
	// Roles are the directory roles (template ids) each user holds, which
	// ID tokens carry in wids; nil: the first user is a Global
	// Administrator, nobody else holds one.
	Roles map[string][]string
}

// rolesOf is the role template ids user holds.
func (d *Directory) rolesOf(user string) []string {
	if d.Roles == nil {
		if len(d.Users) > 0 && d.Users[0].ID == user {
			return []string{msgraph.RoleGlobalAdministrator}
		}
		return nil
	}
	return d.Roles[user]
}

// Server serves Graph's v1.0 endpoints for the directories whose tokens it
// was given.
type Server struct {
	// PageSize is how many items a page holds (Graph's default is 100).
	PageSize int
	// BaseURL is where it is served, e.g. httptest's URL + "/v1.0".
	BaseURL string

	// ClientID and ClientSecret are the app's credentials its token
	// endpoint accepts.
	ClientID, ClientSecret string

	// Admin is the directory whose user the sign-in and admin-consent
	// pages sign in (nil: nobody can sign in); User is that user's object
	// id ("": the directory's first user); Decline makes them refuse
	// consent.
	Admin   *Directory
	User    string
	Decline bool
	// RedirectURIs are the app registration's reply URLs (empty: any).
	RedirectURIs []string

	mu       sync.Mutex
	tokens   map[string]*Directory
	consents map[string]*Directory // Microsoft tenant id -> its directory, while the app has consent
	codes    map[string]authCode   // authorization codes not yet redeemed
	issued   int
	reads    int          // Graph requests answered (not the token or consent endpoints)
	throttle int          // the next n requests get 429
	wait     int          // the Retry-After (seconds) of a 429
	failAt   map[int]bool // page numbers (1-based, counted per collection read) that fail with 503
	hang     map[Endpoint]bool
	hung     int // requests that were left hanging
}

// Endpoint is a part of the fake Microsoft a fault applies to.
type Endpoint string

const (
	TokenEndpoint Endpoint = "token" // POST /{tenant}/oauth2/v2.0/token, every grant
	GraphAPI      Endpoint = "graph" // every /v1.0 read
)

// Hang makes the given endpoints accept requests and answer nothing until
// the caller gives up (Microsoft having an outage); Hang() clears it.
func (s *Server) Hang(endpoints ...Endpoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = map[Endpoint]bool{}
	for _, e := range endpoints {
		s.hang[e] = true
	}
}

// Hung counts the requests Hang left unanswered.
func (s *Server) Hung() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hung
}

// hangs holds r until its caller gives up, if e hangs; it reports whether it did.
func (s *Server) hangs(e Endpoint, r *http.Request) bool {
	s.mu.Lock()
	h := s.hang[e]
	if h {
		s.hung++
	}
	s.mu.Unlock()
	if h {
		// Read the body first: only then does the server watch the
		// connection, and end r's context when the client hangs up.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}
	return h
}

// New returns a server with Graph's default page size.
func New() *Server {
	return &Server{PageSize: 100, tokens: map[string]*Directory{}, consents: map[string]*Directory{}, codes: map[string]authCode{}, failAt: map[int]bool{}}
}

// Consent records that an admin of dir's tenant consented to the app: its
// token endpoint then issues tokens for that tenant.
func (s *Server) Consent(dir *Directory) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.consents[dir.Org.ID] = dir
}

// Withdraw removes the app's consent in a tenant (an admin deleted its
// service principal): new tokens are refused, and those issued stop working.
func (s *Server) Withdraw(tenantID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := s.consents[tenantID]
	delete(s.consents, tenantID)
	for tok, d := range s.tokens {
		if d == dir {
			delete(s.tokens, tok)
		}
	}
}

// Reads counts the Graph requests the server has answered (errors included).
func (s *Server) Reads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// TokensIssued counts the tokens the token endpoint has issued.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// token is Microsoft's v2.0 token endpoint for the client-credentials
// grant: POST /{tenant}/oauth2/v2.0/token, a form with grant_type,
// client_id, client_secret and scope; errors as OAuth2 documents them, with
// AADSTS codes in error_description and error_codes.
func (s *Server) token(w http.ResponseWriter, r *http.Request, tenantID string) {
	fail := func(status int, code string, aadsts int, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": code, "error_description": fmt.Sprintf("AADSTS%d: %s", aadsts, desc),
			"error_codes": []int{aadsts}, "trace_id": "00000000-0000-0000-0000-000000000000"})
	}
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		fail(http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	f := r.PostForm
	s.mu.Lock() // tests rotate the secret (Change) while the server runs
	clientID, secret := s.ClientID, s.ClientSecret
	s.mu.Unlock()
	switch {
	case f.Get("grant_type") != "client_credentials" && f.Get("grant_type") != "authorization_code":
		fail(http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
	case f.Get("client_id") != clientID:
		fail(http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", f.Get("client_id"), tenantID))
	case f.Get("client_secret") != secret:
		fail(http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided.")
	case f.Get("grant_type") == "authorization_code":
		s.redeem(w, r, f, tenantID, fail)
	case f.Get("scope") != msgraph.Scope:
		fail(http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.")
	default:
		s.mu.Lock()
		dir := s.consents[tenantID]
		var tok string
		if dir != nil {
			s.issued++
			tok = fmt.Sprintf("fake-token-%s-%d", tenantID, s.issued)
			s.tokens[tok] = dir
		}
		s.mu.Unlock()
		if dir == nil {
			fail(http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", clientID, tenantID))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
	}
}

// adminConsent is Microsoft's v2.0 admin-consent endpoint: GET
// /{tenant}/v2.0/adminconsent?client_id&scope&redirect_uri&state. The
// signed-in admin (Admin) consents, or declines, and the browser is sent
// to redirect_uri with admin_consent=True, tenant and state — or with
// error and error_description. A wrong client or reply URL gets an error
// page, never a redirect (Microsoft does not send a browser to an
// unregistered URL).
func (s *Server) adminConsent(w http.ResponseWriter, r *http.Request, tenantID string) {
	q := r.URL.Query()
	redirect, ok := s.checkApp(w, q)
	if !ok {
		return
	}
	admin, _, ok := s.signedIn(w, tenantID)
	if !ok {
		return
	}
	s.mu.Lock()
	decline := s.Decline
	s.mu.Unlock()
	back := redirect.Query()
	back.Set("state", q.Get("state"))
	if decline {
		back.Set("error", "access_denied")
		back.Set("error_description", "AADSTS65004: User declined to consent to access the app.")
	} else {
		s.Consent(admin)
		back.Set("admin_consent", "True")
		back.Set("tenant", admin.Org.ID)
		back.Set("scope", q.Get("scope"))
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// SetPageSize changes how many items a page holds.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.PageSize = n
}

// SignIn makes dir's first user (its administrator) the one the sign-in
// and admin-consent pages sign in; decline makes them refuse consent.
func (s *Server) SignIn(dir *Directory, decline bool) {
	s.SignInAs(dir, "", decline)
}

// SignInAs is SignIn with the user given by object id.
func (s *Server) SignInAs(dir *Directory, user string, decline bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Admin, s.User, s.Decline = dir, user, decline
}

// Grant makes token read dir (what a client-credentials token for that tenant does).
func (s *Server) Grant(token string, dir *Directory) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = dir
}

// Revoke makes every token given so far invalid (consent withdrawn, or expired).
func (s *Server) Revoke() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]*Directory{}
}

// Throttle answers the next n requests with 429 and Retry-After: 1.
func (s *Server) Throttle(n int) { s.ThrottleFor(n, 1) }

// ThrottleFor answers the next n requests with 429 and Retry-After: seconds.
func (s *Server) ThrottleFor(n, seconds int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle, s.wait = n, seconds
}

// FailPage makes the given page of every collection read fail with 500
// generalException (an error Graph's guidance does not retry), until
// cleared with FailPage(0).
func (s *Server) FailPage(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failAt = map[int]bool{}
	if n > 0 {
		s.failAt[n] = true
	}
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innerError": map[string]string{"request-id": "00000000-0000-0000-0000-000000000000"}}})
}

// ServeHTTP answers the token endpoint (POST /{tenant}/oauth2/v2.0/token)
// and GET /v1.0/organization, /v1.0/groups and
// /v1.0/groups/{id}/transitiveMembers/microsoft.graph.user.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if tenantID, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/v2.0/adminconsent"); ok && !strings.Contains(tenantID, "/") {
		s.adminConsent(w, r, tenantID)
		return
	}
	if tenantID, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/oauth2/v2.0/token"); ok && !strings.Contains(tenantID, "/") {
		if !s.hangs(TokenEndpoint, r) {
			s.token(w, r, tenantID)
		}
		return
	}
	if tenantID, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/oauth2/v2.0/authorize"); ok && !strings.Contains(tenantID, "/") {
		s.authorize(w, r, tenantID)
		return
	}
	if s.hangs(GraphAPI, r) {
		return
	}
	s.mu.Lock()
	s.reads++
	dir := s.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	throttled, wait := s.throttle > 0, s.wait
	if throttled {
		s.throttle--
	}
	s.mu.Unlock()
	if throttled {
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		writeError(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests.")
		return
	}
	if dir == nil || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		writeError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
		return
	}
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "Request_BadRequest", "Unsupported method.")
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v1.0")
	q := r.URL.Query()
	if id, ok := strings.CutPrefix(path, "/users/"); ok && !strings.Contains(id, "/") {
		s.mu.Lock()
		u, found := dir.user(id)
		s.mu.Unlock()
		if !found {
			writeError(w, http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(selected(u, q.Get("$select")))
		return
	}
	s.mu.Lock() // tests change directories (Change) while the server runs
	items, status, code, msg := dir.read(path, q)
	s.mu.Unlock()
	if status != 0 {
		writeError(w, status, code, msg)
		return
	}
	s.collection(w, r, items)
}

// read answers one Graph path of the directory: its items, or an error.
func (d *Directory) read(path string, q url.Values) (items []any, status int, code, msg string) {
	switch {
	case path == "/organization":
		return []any{d.Org}, 0, "", ""
	case path == "/groups":
		if f := q.Get("$filter"); f != "" && f != "securityEnabled eq true" {
			return nil, http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported query."
		}
		for _, g := range d.Groups {
			if g.Security || q.Get("$filter") == "" {
				items = append(items, g.Group)
			}
		}
		return items, 0, "", ""
	case strings.HasPrefix(path, "/groups/") && strings.HasSuffix(path, "/transitiveMembers/microsoft.graph.user"):
		id := strings.TrimSuffix(strings.TrimPrefix(path, "/groups/"), "/transitiveMembers/microsoft.graph.user")
		users, ok := d.transitiveUsers(id)
		if !ok {
			return nil, http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)
		}
		return users, 0, "", ""
	}
	return nil, http.StatusBadRequest, "BadRequest", "Resource not found for the segment."
}

// Change runs f, which may change any directory, while no request reads one.
func (s *Server) Change(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

// transitiveUsers are the users reachable from group id through nested groups, once each.
func (d *Directory) transitiveUsers(id string) ([]any, bool) {
	groups := map[string]Group{}
	for _, g := range d.Groups {
		groups[g.ID] = g
	}
	users := map[string]msgraph.User{}
	for _, u := range d.Users {
		users[u.ID] = u
	}
	if _, ok := groups[id]; !ok {
		return nil, false
	}
	var out []any
	seen := map[string]bool{id: true}
	queue := []string{id}
	for len(queue) > 0 {
		g := groups[queue[0]]
		queue = queue[1:]
		for _, m := range g.Members {
			if seen[m] {
				continue
			}
			seen[m] = true
			if u, ok := users[m]; ok {
				out = append(out, u)
			} else if _, ok := groups[m]; ok {
				queue = append(queue, m)
			}
		}
	}
	return out, true
}

// user is one user by object id; a user without a userType is a Member
// (Graph always reports one).
func (d *Directory) user(id string) (msgraph.User, bool) {
	for _, u := range d.Users {
		if strings.EqualFold(u.ID, id) {
			if u.UserType == "" {
				u.UserType = "Member"
			}
			return u, true
		}
	}
	return msgraph.User{}, false
}

// selected is it as JSON with only the fields of a $select ("" keeps all).
func selected(it any, sel string) map[string]any {
	raw, _ := json.Marshal(it)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if sel != "" {
		fields := strings.Split(sel, ",")
		for k := range m {
			if !slices.Contains(fields, k) {
				delete(m, k)
			}
		}
	}
	return m
}

// collection answers one page of items, with $select applied and a next
// link carrying the offset in $skiptoken.
func (s *Server) collection(w http.ResponseWriter, r *http.Request, items []any) {
	q := r.URL.Query()
	offset, _ := strconv.Atoi(q.Get("$skiptoken"))
	s.mu.Lock()
	size, base := max(s.PageSize, 1), s.BaseURL
	s.mu.Unlock()
	if top, err := strconv.Atoi(q.Get("$top")); err == nil && top > 0 && top < size {
		size = top
	}
	s.mu.Lock()
	fail := s.failAt[offset/size+1]
	s.mu.Unlock()
	if fail {
		writeError(w, http.StatusInternalServerError, "generalException", "An unspecified error has occurred.")
		return
	}
	end := min(offset+size, len(items))
	value := []map[string]any{}
	for _, it := range items[min(offset, len(items)):end] {
		value = append(value, selected(it, q.Get("$select")))
	}
	body := map[string]any{"value": value}
	if end < len(items) {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("$skiptoken", strconv.Itoa(end))
		body["@odata.nextLink"] = strings.TrimSuffix(base, "/") + strings.TrimPrefix(r.URL.Path, "/v1.0") + "?" + next.Encode()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}
