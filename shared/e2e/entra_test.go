package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/entra"
	"github.com/uniasset/integrations/shared/msgraph"
	"github.com/uniasset/integrations/shared/msgraph/msgraphfake"
	"github.com/uniasset/integrations/shared/tenant"
)

// The Entra tests share the stack's one fake Microsoft (who is signed in to
// its consent page, throttling, failing pages), so none runs in parallel.

var msSeq atomic.Int64

// directory is a fake Microsoft tenant of its own for one test: users u0..
// un-1 (enabled), and groups named as given, each with no members yet.
type directory struct {
	*msgraphfake.Directory
}

func newDirectory(t *testing.T, users int, groups ...string) *directory {
	t.Helper()
	n := msSeq.Add(1) + time.Now().UnixNano()%100000*1000
	d := &msgraphfake.Directory{Org: msgraph.Organization{
		ID: fmt.Sprintf("%08x-0000-4000-8000-%012d", n%0xffffffff, n), DisplayName: t.Name(),
		VerifiedDomains: []msgraph.Domain{{Name: fmt.Sprintf("d%d.example", n), IsDefault: true}},
	}}
	for i := range users {
		d.Users = append(d.Users, msgraph.User{ID: uid(d, i), DisplayName: fmt.Sprintf("User %d", i), Mail: fmt.Sprintf("u%d@d%d.example", i, n),
			UserPrincipalName: fmt.Sprintf("u%d@d%d.example", i, n), AccountEnabled: true})
	}
	for i, g := range groups {
		d.Groups = append(d.Groups, msgraphfake.Group{Group: msgraph.Group{ID: gid(d, i), DisplayName: g}, Security: true})
	}
	return &directory{d}
}

func uid(d *msgraphfake.Directory, i int) string {
	return d.Org.ID[:24] + fmt.Sprintf("%012d", 100000+i)
}
func gid(d *msgraphfake.Directory, i int) string {
	return d.Org.ID[:24] + fmt.Sprintf("%012d", 900000+i)
}

func (d *directory) user(i int) string  { return uid(d.Directory, i) }
func (d *directory) group(i int) string { return gid(d.Directory, i) }

// members sets group i's members (user or group ids), as a directory admin would.
func (d *directory) members(i int, ids ...string) {
	stack.Microsoft.Change(func() { d.Groups[i].Members = ids })
}

func (d *directory) users(idx ...int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, d.user(i))
	}
	return out
}

// consent runs the browser's part of the flow: POST connect, sign in at
// the fake Microsoft as d's first user, back to the callback, on to the
// admin-consent page (the admin consents, or declines), and return the
// callback URL Microsoft's consent sent the browser to (not yet followed).
func consent(t *testing.T, tenantID string, d *directory, decline bool) string {
	t.Helper()
	return consentVia(t, tenantID, d, "", decline, func(u string) string { return u })
}

// consentVia is consent as user (an object id of d; "" for the first),
// with the sign-in URL rewritten on its way to Microsoft.
func consentVia(t *testing.T, tenantID string, d *directory, user string, decline bool, rewrite func(string) string) string {
	t.Helper()
	status, next := open(t, signIn(t, tenantID, d, user, decline, rewrite))
	if status != http.StatusFound || !strings.HasPrefix(next, stack.MicrosoftURL+"/"+d.Org.ID+"/v2.0/adminconsent?") {
		t.Fatalf("the sign-in's callback answered %d %s", status, next)
	}
	return microsoft(t, next)
}

// signIn posts connect and signs in at Microsoft as user of d; it returns
// the callback URL the sign-in sent the browser to, with its code.
func signIn(t *testing.T, tenantID string, d *directory, user string, decline bool, rewrite func(string) string) string {
	t.Helper()
	r := call(t, "POST", "/api/integrations/entra/connect", token(t, tenantID, "Owner"), nil)
	expect(t, r, http.StatusOK, "")
	stack.Microsoft.SignInAs(d.Directory, user, decline)
	return microsoft(t, rewrite(r.json(t)["consentUrl"].(string)))
}

// microsoft opens one of Microsoft's pages as the browser would and
// returns where it redirects to: the callback.
func microsoft(t *testing.T, page string) string {
	t.Helper()
	status, loc := open(t, page)
	if status != http.StatusFound || !strings.HasPrefix(loc, server.URL+"/api/integrations/entra/callback?") {
		t.Fatalf("%s answered %d, to %s", page, status, loc)
	}
	return loc
}

// open is a browser's GET of u that does not follow a redirect: the
// status, and where it redirects to.
func open(t *testing.T, u string) (int, string) {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 3 { // an answer, not a redirect: its body says why (for a failure's message)
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return resp.StatusCode, string(body)
	}
	return resp.StatusCode, resp.Header.Get("Location")
}

// callback follows Microsoft's redirect (no token) and returns the outcome.
func callback(t *testing.T, loc string) (int, string) {
	t.Helper()
	r := call(t, "GET", strings.TrimPrefix(loc, server.URL), "", nil)
	return r.Status, r.json(t)["outcome"].(string)
}

// connect connects tenantID to d and waits for the first sync (queued by
// the callback) to finish.
func connect(t *testing.T, tenantID string, d *directory) {
	t.Helper()
	before := ""
	if c, _ := entraPage(t, tenantID)["connection"].(map[string]any); c != nil {
		before, _ = c["lastSyncAt"].(string)
	}
	if status, outcome := callback(t, consent(t, tenantID, d, false)); status != http.StatusOK || outcome != entra.OutcomeConnected {
		t.Fatalf("callback: %d %s", status, outcome)
	}
	waitSynced(t, tenantID, before)
}

// entraPage is GET /entra as the tenant's Owner.
func entraPage(t *testing.T, tenantID string) map[string]any {
	t.Helper()
	r := call(t, "GET", "/api/integrations/entra", token(t, tenantID, "Owner"), nil)
	expect(t, r, http.StatusOK, "")
	return r.json(t)
}

func connection(t *testing.T, tenantID string) map[string]any {
	t.Helper()
	c, _ := entraPage(t, tenantID)["connection"].(map[string]any)
	if c == nil {
		t.Fatal("not connected")
	}
	return c
}

// waitSynced waits until a sync after the one at `after` has finished.
func waitSynced(t *testing.T, tenantID, after string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		c := connection(t, tenantID)
		if at, _ := c["lastSyncAt"].(string); at != "" && at != after {
			return c
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no sync finished after %q", after)
	return nil
}

// syncNow runs one sync as EntraSyncFunction would, synchronously.
func syncNow(t *testing.T, tenantID string) entra.Outcome {
	t.Helper()
	out, err := stack.EntraSync.Syncer.Sync(context.Background(), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Ran {
		t.Fatal("the sync did not run")
	}
	return out
}

func mapGroups(t *testing.T, tenantID string, m map[string]tenant.Role) {
	t.Helper()
	var list []map[string]string
	for g, r := range m {
		list = append(list, map[string]string{"groupId": g, "role": string(r)})
	}
	r := call(t, "PUT", "/api/integrations/entra/mappings", token(t, tenantID, "Owner"), map[string]any{"mappings": list})
	expect(t, r, http.StatusOK, "")
}

// accounts reads every synced account through GET /entra/users, by Entra id.
func accounts(t *testing.T, tenantID string) map[string]entra.Account {
	t.Helper()
	out := map[string]entra.Account{}
	cursor := ""
	for {
		path := "/api/integrations/entra/users?limit=7"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		r := call(t, "GET", path, token(t, tenantID, "Viewer"), nil)
		expect(t, r, http.StatusOK, "")
		var page struct {
			Users      []entra.Account `json:"users"`
			NextCursor *string         `json:"nextCursor"`
		}
		decode(t, r.Body, &page)
		for _, a := range page.Users {
			if _, dup := out[a.EntraID]; dup {
				t.Fatalf("%s listed twice", a.EntraID)
			}
			out[a.EntraID] = a
		}
		if page.NextCursor == nil {
			return out
		}
		cursor = *page.NextCursor
	}
}

// active lists the ids of active accounts with their roles.
func active(as map[string]entra.Account) map[string]tenant.Role {
	out := map[string]tenant.Role{}
	for id, a := range as {
		if a.Status == entra.Active {
			out[id] = a.Role
		}
	}
	return out
}

// systemEntries are the tenant's System entries about Entra, newest first.
func systemEntries(t *testing.T, tenantID string) []map[string]any {
	t.Helper()
	r := call(t, "GET", "/api/integrations/activity?source=system", token(t, tenantID, "Owner"), nil)
	expect(t, r, http.StatusOK, "")
	var out []map[string]any
	for _, row := range r.json(t)["rows"].([]any) {
		m := row.(map[string]any)
		if strings.HasPrefix(fmt.Sprint(m["event"]), "entra.") {
			out = append(out, m)
		}
	}
	return out
}

// The page answers every role on every plan (the gate below Enterprise);
// every other route refuses below Enterprise, and changes need an Owner.
func TestEntraPlanGateAndRoles(t *testing.T) {
	starter, ent := newTenant(t, tenant.Starter), newTenant(t, tenant.Enterprise)
	for _, role := range []string{"Owner", "Viewer"} {
		r := call(t, "GET", "/api/integrations/entra", token(t, starter, role), nil)
		expect(t, r, http.StatusOK, "")
		if m := r.json(t); m["available"] != false || m["requiredPlan"] != "enterprise" || m["connection"] != nil {
			t.Fatalf("starter page: %v", m)
		}
	}
	if m := entraPage(t, ent); m["available"] != true || m["connection"] != nil || m["configured"] != true {
		t.Fatalf("enterprise page before connecting: %v", m)
	}
	expect(t, call(t, "GET", "/api/integrations/entra/groups", token(t, starter, "Owner"), nil), http.StatusForbidden, "ENTERPRISE_REQUIRED")
	expect(t, call(t, "POST", "/api/integrations/entra/connect", token(t, starter, "Owner"), nil), http.StatusForbidden, "ENTERPRISE_REQUIRED")
	expect(t, call(t, "POST", "/api/integrations/entra/connect", token(t, ent, "Admin"), nil), http.StatusForbidden, "FORBIDDEN")
	expect(t, call(t, "PUT", "/api/integrations/entra/mappings", token(t, ent, "Admin"), map[string]any{"mappings": []any{}}), http.StatusForbidden, "FORBIDDEN")
	expect(t, call(t, "GET", "/api/integrations/entra/users", token(t, ent, "Member"), nil), http.StatusOK, "")
	expect(t, call(t, "GET", "/api/integrations/entra", "", nil), http.StatusUnauthorized, "")
	// Changes before connecting have nothing to change.
	expect(t, call(t, "POST", "/api/integrations/entra/sync", token(t, ent, "Owner"), nil), http.StatusConflict, "CONFLICT")
	expect(t, call(t, "POST", "/api/integrations/entra/disconnect", token(t, ent, "Owner"), nil), http.StatusConflict, "CONFLICT")
}

// Connect: success proves the tenant and lists its groups (every page); a
// used, forged or missing state, a refusal and a tenant without consent
// connect nothing; a Microsoft tenant connects to one UniAsset tenant.
func TestEntraConnectFlow(t *testing.T) {
	stack.Microsoft.SetPageSize(2)
	defer stack.Microsoft.SetPageSize(100)
	tid := newTenant(t, tenant.Enterprise)
	d := newDirectory(t, 4, "Engineers", "Managers", "Owners", "Auditors", "Drivers")

	// Declined: nothing connected, a System entry says so.
	status, outcome := callback(t, consent(t, tid, d, true))
	if status != http.StatusBadRequest || outcome != entra.OutcomeRefused {
		t.Fatalf("declined: %d %s", status, outcome)
	}
	if entraPage(t, tid)["connection"] != nil {
		t.Fatal("a refusal connected")
	}
	if es := systemEntries(t, tid); len(es) != 1 || es[0]["event"] != "entra.connect_failed" || !strings.Contains(fmt.Sprint(es[0]["details"]), "access_denied") {
		t.Fatalf("system entries after a refusal: %v", es)
	}

	// The consent's tenant parameter edited to another directory that has
	// consented to the app (for someone else) and is connected nowhere:
	// refused, because nobody signed in to it.
	elsewhere := newDirectory(t, 1)
	stack.Microsoft.Consent(elsewhere.Directory)
	loc := consent(t, tid, d, false)
	forgedTenant := strings.Replace(loc, "tenant="+d.Org.ID, "tenant="+elsewhere.Org.ID, 1)
	if status, outcome := callback(t, forgedTenant); status != http.StatusBadRequest || outcome != entra.OutcomeTenantChanged {
		t.Fatalf("edited tenant: %d %s", status, outcome)
	}
	// That used the state: the genuine redirect is now refused too.
	if _, outcome := callback(t, loc); outcome != entra.OutcomeInvalidState {
		t.Fatalf("a used state: %s", outcome)
	}
	// Skipping the sign-in: the sign-in's state presented as a consent.
	code := signIn(t, tid, d, "", false, func(u string) string { return u })
	skipped := "/api/integrations/entra/callback?admin_consent=True&tenant=" + d.Org.ID + "&state=" + url.QueryEscape(query(t, code).Get("state"))
	if _, outcome := callback(t, skipped); outcome != entra.OutcomeSignInFailed {
		t.Fatalf("consent without a sign-in: %s", outcome)
	}
	// A code carried over to another sign-in's state: its PKCE verifier does not match.
	first := signIn(t, tid, d, "", false, func(u string) string { return u })
	second := signIn(t, tid, d, "", false, func(u string) string { return u })
	swapped := "/api/integrations/entra/callback?code=" + url.QueryEscape(query(t, first).Get("code")) + "&state=" + url.QueryEscape(query(t, second).Get("state"))
	if _, outcome := callback(t, swapped); outcome != entra.OutcomeSignInFailed {
		t.Fatalf("a swapped code: %s", outcome)
	}
	// A guest of the directory, or a disabled member, signs in: refused.
	// (Each holds an admin role: the role is checked first.)
	stack.Microsoft.Change(func() {
		d.Users[1].UserType, d.Users[2].AccountEnabled = "Guest", false
		d.Roles = map[string][]string{d.user(0): {msgraph.RoleGlobalAdministrator}, d.user(1): {msgraph.RoleGlobalAdministrator},
			d.user(2): {msgraph.RolePrivilegedRoleAdministrator}}
	})
	for _, who := range []string{d.user(1), d.user(2)} {
		if status, outcome := callback(t, consentVia(t, tid, d, who, false, func(u string) string { return u })); status != http.StatusBadRequest || outcome != entra.OutcomeNotMember {
			t.Fatalf("%s signed in: %d %s", who, status, outcome)
		}
	}
	// The app's own secret refused when the sign-in's code is redeemed: the
	// operator's to fix, and said so.
	var secret string
	stack.Microsoft.Change(func() { secret, stack.Microsoft.ClientSecret = stack.Microsoft.ClientSecret, "rotated" })
	status, outcome = callback(t, signIn(t, tid, d, "", false, func(u string) string { return u }))
	stack.Microsoft.Change(func() { stack.Microsoft.ClientSecret = secret })
	if status != http.StatusBadGateway || outcome != entra.OutcomeUnavailable || !strings.Contains(fmt.Sprint(systemEntries(t, tid)[0]["details"]), "client secret") {
		t.Fatalf("the app's secret refused: %d %s %v", status, outcome, systemEntries(t, tid)[0])
	}
	// An ordinary member of a directory whose admin consented earlier (d
	// has, above) cannot reuse that consent: the sign-in shows no role
	// that could grant it, and the flow stops there.
	if status, outcome := callback(t, signIn(t, tid, d, d.user(3), false, func(u string) string { return u })); status != http.StatusBadRequest || outcome != entra.OutcomeNotAdmin {
		t.Fatalf("a member without an admin role: %d %s", status, outcome)
	}
	if entraPage(t, tid)["connection"] != nil {
		t.Fatal("a refused connect connected")
	}
	loc = consent(t, tid, d, false)
	forged := strings.Replace(loc, "state=", "state=x", 1)
	if _, outcome := callback(t, forged); outcome != entra.OutcomeInvalidState {
		t.Fatalf("forged state: %s", outcome)
	}
	if _, outcome := callback(t, "/api/integrations/entra/callback?admin_consent=True&tenant="+d.Org.ID); outcome != entra.OutcomeInvalidState {
		t.Fatalf("no state: %s", outcome)
	}
	if status, outcome := callback(t, loc); status != http.StatusOK || outcome != entra.OutcomeConnected {
		t.Fatalf("genuine: %d %s", status, outcome)
	}
	// Replayed: refused, and the connection stands.
	if _, outcome := callback(t, loc); outcome != entra.OutcomeInvalidState {
		t.Fatalf("replayed: %s", outcome)
	}
	c := waitSynced(t, tid, "")
	if c["status"] != "connected" || c["microsoftTenantId"] != d.Org.ID || c["domain"] != d.Org.VerifiedDomains[0].Name || c["connectedBy"] != "user-owner" ||
		c["consentedBy"] != d.Users[0].UserPrincipalName {
		t.Fatalf("connection: %v", c)
	}
	r := call(t, "GET", "/api/integrations/entra/groups", token(t, tid, "Viewer"), nil)
	expect(t, r, http.StatusOK, "")
	groups := r.json(t)["groups"].([]any)
	if len(groups) != 5 || r.json(t)["stale"] != false {
		t.Fatalf("groups (5 over 3 pages): %s", r.Body)
	}

	// Another UniAsset tenant cannot connect the same Microsoft tenant.
	other := newTenant(t, tenant.Enterprise)
	if status, outcome := callback(t, consent(t, other, d, false)); status != http.StatusConflict || outcome != entra.OutcomeClaimed {
		t.Fatalf("second claim: %d %s", status, outcome)
	}
	if entraPage(t, other)["connection"] != nil {
		t.Fatal("the second tenant connected")
	}
	// Reconnecting names the connected tenant, so another directory's
	// admin cannot sign in; one who edits the URL to sign in anyway does
	// not switch the connection: disconnect first.
	hinted := "/" + d.Org.ID + "/oauth2/v2.0/authorize"
	if r := call(t, "POST", "/api/integrations/entra/connect", token(t, tid, "Owner"), nil); !strings.Contains(r.json(t)["consentUrl"].(string), hinted) {
		t.Fatalf("reconnect URL: %s", r.Body)
	}
	edited := func(u string) string { return strings.Replace(u, hinted, "/organizations/oauth2/v2.0/authorize", 1) }
	if _, outcome := callback(t, signIn(t, tid, newDirectory(t, 1), "", false, edited)); outcome != entra.OutcomeSignInFailed {
		t.Fatalf("switching directories: %s", outcome)
	}
	if c := connection(t, tid); c["microsoftTenantId"] != d.Org.ID || c["status"] != "connected" {
		t.Fatalf("after an attempt to switch: %v", c)
	}
	// Disconnect: off the schedule, the claim released, the other tenant may connect.
	expect(t, call(t, "POST", "/api/integrations/entra/disconnect", token(t, tid, "Owner"), nil), http.StatusNoContent, "")
	if c := connection(t, tid); c["status"] != "disconnected" {
		t.Fatalf("after disconnect: %v", c)
	}
	if out, err := stack.EntraSync.Syncer.Sync(context.Background(), tid); err != nil || out.Ran {
		t.Fatalf("a disconnected tenant synced: %v %v", out, err)
	}
	connect(t, other, d)
}

// query is the query of a callback URL.
func query(t *testing.T, u string) url.Values {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Query()
}

// Provisioning follows the mapped groups: nested membership, the highest
// role, disabled users left out; role changes, removals, disabled and
// deleted users; Auto Provision and Deprovision Sync off.
func TestEntraProvisioning(t *testing.T) {
	tid := newTenant(t, tenant.Enterprise)
	d := newDirectory(t, 8, "Owners", "Engineers", "Contractors", "Unmapped")
	d.members(0, d.user(0))
	d.members(2, d.user(3), d.user(4), d.user(7)) // nested in Engineers
	d.members(1, d.user(0), d.user(1), d.user(2), d.group(2))
	d.members(3, d.user(5), d.user(6))
	stack.Microsoft.Change(func() { d.Users[7].AccountEnabled = false })
	connect(t, tid, d)
	mapGroups(t, tid, map[string]tenant.Role{d.group(0): tenant.Owner, d.group(1): tenant.Member})
	out := syncNow(t, tid)
	want := map[string]tenant.Role{d.user(0): tenant.Owner, d.user(1): tenant.Member, d.user(2): tenant.Member, d.user(3): tenant.Member, d.user(4): tenant.Member}
	got := accounts(t, tid)
	if !mapsEqual(active(got), want) || out.Result.Provisioned != 5 {
		t.Fatalf("provisioned %d: %v, want %v", out.Result.Provisioned, active(got), want)
	}
	if a := got[d.user(0)]; !slices.Equal(a.Groups, []string{d.group(0), d.group(1)}) || a.Email != d.Users[0].Mail || a.ProvisionedAt == "" {
		t.Fatalf("account: %+v", a)
	}
	// Nothing changed: nothing written.
	if out := syncNow(t, tid); out.Result.Provisioned+out.Result.RoleChanges+out.Result.Deprovisioned+out.Result.Updated != 0 {
		t.Fatalf("a sync with no changes: %+v", out.Result)
	}

	// Contractors mapped to Admin: its members move up; user 1 leaves; user 2 is
	// disabled in Entra; user 4 is deleted.
	mapGroups(t, tid, map[string]tenant.Role{d.group(0): tenant.Owner, d.group(1): tenant.Member, d.group(2): tenant.Admin})
	d.members(1, d.user(0), d.user(2), d.group(2))
	stack.Microsoft.Change(func() {
		d.Users[2].AccountEnabled = false
		d.Users = slices.DeleteFunc(d.Users, func(u msgraph.User) bool { return u.ID == d.user(4) })
	})
	out = syncNow(t, tid)
	got = accounts(t, tid)
	want = map[string]tenant.Role{d.user(0): tenant.Owner, d.user(3): tenant.Admin}
	if !mapsEqual(active(got), want) || out.Result.RoleChanges != 1 || out.Result.Deprovisioned != 3 {
		t.Fatalf("after changes %+v: %v, want %v", out.Result, active(got), want)
	}
	for id, reason := range map[string]string{d.user(1): entra.LeftGroups, d.user(2): entra.DisabledInEntra, d.user(4): entra.LeftGroups} {
		if a := got[id]; a.Status != entra.Disabled || a.DisabledReason != reason {
			t.Errorf("%s: %+v, want disabled (%s)", id, a, reason)
		}
	}

	// Auto Provision off: a new member gets no account; a returning one is
	// not re-enabled. Deprovision Sync off: a leaver keeps access.
	patch := func(body map[string]any) {
		expect(t, call(t, "PATCH", "/api/integrations/entra/settings", token(t, tid, "Owner"), body), http.StatusOK, "")
	}
	patch(map[string]any{"autoProvision": false, "deprovisionSync": false})
	d.members(1, d.user(0), d.user(1), d.user(6))
	d.members(2)
	out = syncNow(t, tid)
	if got := active(accounts(t, tid)); !mapsEqual(got, map[string]tenant.Role{d.user(0): tenant.Owner, d.user(3): tenant.Admin}) || out.Result.Provisioned != 0 {
		t.Fatalf("both off %+v: %v", out.Result, got)
	}
	patch(map[string]any{"autoProvision": true})
	syncNow(t, tid)
	if got := active(accounts(t, tid)); !mapsEqual(got, map[string]tenant.Role{d.user(0): tenant.Owner, d.user(1): tenant.Member, d.user(3): tenant.Admin, d.user(6): tenant.Member}) {
		t.Fatalf("auto provision back on (deprovision still off): %v", got)
	}
	patch(map[string]any{"deprovisionSync": true})
	syncNow(t, tid)
	if got := active(accounts(t, tid)); !mapsEqual(got, map[string]tenant.Role{d.user(0): tenant.Owner, d.user(1): tenant.Member, d.user(6): tenant.Member}) {
		t.Fatalf("deprovision back on: %v", got)
	}
	// Every sync left a System entry with its counts.
	syncs := 0
	for _, e := range systemEntries(t, tid) {
		if e["event"] == "entra.sync" {
			syncs++
		}
	}
	if syncs != 7 { // the first (on connect) and six more
		t.Errorf("%d sync entries, want 7", syncs)
	}
}

func decode(t *testing.T, raw []byte, dst any) {
	t.Helper()
	if err := json.Unmarshal(raw, dst); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Every way of not reading the whole directory changes nothing: no account,
// the groups kept (marked stale, never emptied), the status and a System
// entry say why; the next good sync recovers.
func TestEntraUnreadableDirectoryChangesNothing(t *testing.T) {
	stack.Microsoft.SetPageSize(2)
	defer stack.Microsoft.SetPageSize(100)
	tid := newTenant(t, tenant.Enterprise)
	d := newDirectory(t, 8, "Staff", "Admins", "Other")
	d.members(0, d.users(0, 1, 2, 3, 4, 5, 6)...)
	d.members(1, d.user(7))
	connect(t, tid, d)
	mapGroups(t, tid, map[string]tenant.Role{d.group(0): tenant.Member, d.group(1): tenant.Admin})
	syncNow(t, tid)
	before := accounts(t, tid)
	if len(active(before)) != 8 {
		t.Fatalf("setup: %v", active(before))
	}
	// What a good read would now change: everyone leaves Staff.
	d.members(0)
	for _, c := range []struct {
		name   string
		fault  func()
		status entra.Status
	}{
		{"throttled past the retries", func() { stack.Microsoft.Throttle(100) }, entra.Failing},
		{"a failing second page", func() { stack.Microsoft.FailPage(2) }, entra.Failing},
		{"consent withdrawn", func() { stack.Microsoft.Withdraw(d.Org.ID) }, entra.ReauthRequired},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.fault()
			out := syncNow(t, tid)
			stack.Microsoft.Throttle(0)
			stack.Microsoft.FailPage(0)
			if out.Status != c.status || out.Result.Outcome != entra.Failed {
				t.Fatalf("outcome %+v, status %s; want %s", out.Result, out.Status, c.status)
			}
			if got := accounts(t, tid); !mapsEqual(active(got), active(before)) {
				t.Fatalf("accounts changed: %v", active(got))
			}
			conn := connection(t, tid)
			if conn["status"] != string(c.status) || conn["statusReason"] == "" || conn["groupsStale"] != true {
				t.Fatalf("connection: %v", conn)
			}
			r := call(t, "GET", "/api/integrations/entra/groups", token(t, tid, "Owner"), nil)
			if m := r.json(t); len(m["groups"].([]any)) != 3 || m["stale"] != true {
				t.Fatalf("groups: %s", r.Body)
			}
			if e := systemEntries(t, tid)[0]; e["event"] != "entra.sync" || e["status"] != entra.Failed || e["details"] != conn["statusReason"] {
				t.Fatalf("system entry: %v", e)
			}
		})
	}
	// Consent back (an Owner connects again): the sync reads it all, and
	// applies the removals — 7 of 8 is past the threshold, so they are held.
	connect(t, tid, d)
	c := connection(t, tid)
	if c["status"] != "connected" || c["groupsStale"] != false {
		t.Fatalf("after reconnecting: %v", c)
	}
	if held, _ := c["held"].(map[string]any); held == nil || held["count"] != float64(7) {
		t.Fatalf("held: %v", c)
	}
}

// A revoked token (Graph answers 401 to it) is not a withdrawn consent: the
// sync asks for a fresh token once and goes on.
func TestEntraRevokedTokenIsRenewed(t *testing.T) {
	tid := newTenant(t, tenant.Enterprise)
	d := newDirectory(t, 2, "Staff")
	d.members(0, d.users(0, 1)...)
	connect(t, tid, d)
	mapGroups(t, tid, map[string]tenant.Role{d.group(0): tenant.Viewer})
	stack.Microsoft.Revoke()
	issued := stack.Microsoft.TokensIssued()
	if out := syncNow(t, tid); out.Status != entra.Connected || out.Result.Provisioned != 2 {
		t.Fatalf("after a revoked token: %+v %s", out.Result, out.Status)
	}
	if stack.Microsoft.TokensIssued() != issued+1 {
		t.Fatalf("%d tokens issued, want one more", stack.Microsoft.TokensIssued()-issued)
	}
}

// Removals past the threshold are held (marked, not applied); approving
// the digest shown applies exactly those still to be removed; a changed
// set cannot be approved.
func TestEntraThresholdHoldsRemovalsForApproval(t *testing.T) {
	tid := newTenant(t, tenant.Enterprise)
	d := newDirectory(t, 20, "Staff")
	all := make([]string, 20)
	for i := range all {
		all[i] = d.user(i)
	}
	d.members(0, all...)
	connect(t, tid, d)
	mapGroups(t, tid, map[string]tenant.Role{d.group(0): tenant.Member})
	syncNow(t, tid)
	// 5 leave: 25% but not more than 5 — applied.
	d.members(0, all[5:]...)
	if out := syncNow(t, tid); out.Result.Deprovisioned != 5 || out.Result.Held != 0 {
		t.Fatalf("5 removals: %+v", out.Result)
	}
	// 6 more of the 15 leave: 40% and more than 5 — held.
	d.members(0, all[11:]...)
	out := syncNow(t, tid)
	if out.Result.Deprovisioned != 0 || out.Result.Held != 6 || out.Result.Outcome != entra.HeldBack {
		t.Fatalf("6 removals: %+v", out.Result)
	}
	got := accounts(t, tid)
	if len(active(got)) != 15 {
		t.Fatalf("held removals were applied: %d active", len(active(got)))
	}
	for _, id := range all[5:11] {
		if !got[id].PendingRemoval {
			t.Fatalf("%s not marked", id)
		}
	}
	c := connection(t, tid)
	held := c["held"].(map[string]any)
	if !strings.Contains(fmt.Sprint(c["statusReason"]), "6 removals held") {
		t.Fatalf("status reason: %v", c["statusReason"])
	}
	if e := systemEntries(t, tid)[0]; e["status"] != entra.HeldBack {
		t.Fatalf("system entry: %v", e)
	}
	// A second sync holds the same set (same digest, same since).
	syncNow(t, tid)
	if again := connection(t, tid)["held"].(map[string]any); again["digest"] != held["digest"] || again["since"] != held["since"] {
		t.Fatalf("held changed without a change: %v then %v", held, again)
	}
	owner := token(t, tid, "Owner")
	expect(t, call(t, "POST", "/api/integrations/entra/approvals", owner, map[string]any{"digest": "0123456789abcdef"}), http.StatusConflict, "CONFLICT")
	expect(t, call(t, "POST", "/api/integrations/entra/approvals", token(t, tid, "Admin"), map[string]any{"digest": held["digest"]}), http.StatusForbidden, "FORBIDDEN")
	// One of the six comes back before the approval runs.
	d.members(0, append([]string{all[5]}, all[11:]...)...)
	last := connection(t, tid)["lastSyncAt"].(string)
	r := call(t, "POST", "/api/integrations/entra/approvals", owner, map[string]any{"digest": held["digest"]})
	expect(t, r, http.StatusAccepted, "")
	waitSynced(t, tid, last)
	got = accounts(t, tid)
	for _, id := range all[6:11] {
		if got[id].Status != entra.Disabled {
			t.Errorf("%s approved but not removed: %+v", id, got[id])
		}
	}
	if a := got[all[5]]; a.Status != entra.Active || a.PendingRemoval {
		t.Errorf("the user who came back: %+v", a)
	}
	if c := connection(t, tid); c["held"] != nil || c["approvalPending"] != false || c["status"] != "connected" {
		t.Fatalf("after approval: %v", c)
	}
}

// Bad input gets a 4xx with a code, and changes nothing.
func TestEntraBadInput(t *testing.T) {
	tid := newTenant(t, tenant.Enterprise)
	d := newDirectory(t, 1, "Staff")
	connect(t, tid, d)
	owner := token(t, tid, "Owner")
	for _, c := range []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{"PUT", "/api/integrations/entra/mappings", map[string]any{"mappings": []any{map[string]any{"groupId": d.group(0), "role": "Manager"}}}, 400, "VALIDATION_ERROR"},
		{"PUT", "/api/integrations/entra/mappings", map[string]any{"mappings": []any{map[string]any{"groupId": d.group(0), "role": "owner"}}}, 400, "VALIDATION_ERROR"},
		{"PUT", "/api/integrations/entra/mappings", map[string]any{"mappings": []any{map[string]any{"groupId": d.group(7), "role": "Owner"}}}, 400, "VALIDATION_ERROR"},
		{"PUT", "/api/integrations/entra/mappings", map[string]any{"mappings": []any{map[string]any{"groupId": "../../x", "role": "Owner"}}}, 400, "VALIDATION_ERROR"},
		{"PUT", "/api/integrations/entra/mappings", map[string]any{"mappings": []any{map[string]any{"groupId": d.group(0), "role": "Owner"}, map[string]any{"groupId": strings.ToUpper(d.group(0)), "role": "Viewer"}}}, 400, "VALIDATION_ERROR"},
		{"PUT", "/api/integrations/entra/mappings", map[string]any{}, 400, "VALIDATION_ERROR"},
		{"PUT", "/api/integrations/entra/mappings", `{"mappings":[`, 400, "VALIDATION_ERROR"},
		{"PUT", "/api/integrations/entra/mappings", map[string]any{"mappings": "all"}, 400, "VALIDATION_ERROR"},
		{"PUT", "/api/integrations/entra/mappings", `{"mappings":[],"x":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "PAYLOAD_TOO_LARGE"},
		{"PATCH", "/api/integrations/entra/settings", map[string]any{}, 400, "VALIDATION_ERROR"},
		{"PATCH", "/api/integrations/entra/settings", map[string]any{"autoProvision": "yes"}, 400, "VALIDATION_ERROR"},
		{"PATCH", "/api/integrations/entra/settings", map[string]any{"deprovisionThreshold": map[string]any{"percent": 101}}, 400, "VALIDATION_ERROR"},
		{"PATCH", "/api/integrations/entra/settings", map[string]any{"deprovisionThreshold": map[string]any{"count": 2.5}}, 400, "VALIDATION_ERROR"},
		{"PATCH", "/api/integrations/entra/settings", map[string]any{"deprovisionThreshold": map[string]any{}}, 400, "VALIDATION_ERROR"},
		{"PATCH", "/api/integrations/entra/settings", `{"deprovisionThreshold":{"percent":null,"count":7}}`, 400, "VALIDATION_ERROR"},
		{"PATCH", "/api/integrations/entra/settings", `{"deprovisionThreshold":{"count":1e-400}}`, 400, "VALIDATION_ERROR"},
		{"PATCH", "/api/integrations/entra/settings", `{"deprovisionThreshold":{"count":6.99999999999999999}}`, 400, "VALIDATION_ERROR"},
		{"POST", "/api/integrations/entra/disconnect", "garbage", 400, "VALIDATION_ERROR"},
		{"POST", "/api/integrations/entra/sync", "{", 400, "VALIDATION_ERROR"},
		{"POST", "/api/integrations/entra/approvals", map[string]any{"digest": "nope"}, 400, "VALIDATION_ERROR"},
		{"POST", "/api/integrations/entra/approvals", map[string]any{"digest": "0123456789abcdef"}, 409, "CONFLICT"},
		{"GET", "/api/integrations/entra/users?limit=0", nil, 400, "VALIDATION_ERROR"},
		{"GET", "/api/integrations/entra/users?limit=abc", nil, 400, "VALIDATION_ERROR"},
		{"GET", "/api/integrations/entra/users?cursor=9:x", nil, 400, "VALIDATION_ERROR"},
		{"GET", "/api/integrations/entra/users?cursor=1:TENANT%23other", nil, 400, "VALIDATION_ERROR"},
		{"GET", "/api/integrations/entra/callback?state=" + strings.Repeat("s", 5000), nil, 400, ""},
		{"GET", "/api/integrations/entra/callback?state=abc&error=access_denied&error_description=%00%1b[31m", nil, 400, ""},
	} {
		r := call(t, c.method, c.path, owner, c.body)
		if r.Status != c.status || (c.code != "" && r.code(t) != c.code) {
			t.Errorf("%s %s %.80v: %d %s, want %d %s", c.method, c.path, c.body, r.Status, r.Body, c.status, c.code)
		}
	}
	c := connection(t, tid)
	if len(c["mappings"].([]any)) != 0 || c["settings"].(map[string]any)["deprovisionThreshold"].(map[string]any)["percent"] != float64(20) ||
		c["settings"].(map[string]any)["deprovisionThreshold"].(map[string]any)["count"] != float64(5) || c["status"] != "connected" {
		t.Fatalf("bad input changed the connection: %v", c)
	}
	// Another tenant's Owner sees none of it.
	other := newTenant(t, tenant.Enterprise)
	if r := call(t, "GET", "/api/integrations/entra/groups", token(t, other, "Owner"), nil); len(r.json(t)["groups"].([]any)) != 0 {
		t.Fatalf("another tenant's groups: %s", r.Body)
	}
}

// A settings change is written only over the settings it read: a PATCH of
// one option never undoes another Owner's change of another made meanwhile.
func TestEntraSettingsChangesKeepEachOther(t *testing.T) {
	tid := newTenant(t, tenant.Enterprise)
	d := newDirectory(t, 1, "Staff")
	connect(t, tid, d)
	store := stack.EntraSync.Syncer.Store
	read, err := store.Get(context.Background(), tid)
	if err != nil {
		t.Fatal(err)
	}
	owner := token(t, tid, "Owner")
	expect(t, call(t, "PATCH", "/api/integrations/entra/settings", owner, map[string]any{"deprovisionSync": false}), http.StatusOK, "")
	// A writer that read before that PATCH is refused, not allowed to undo it.
	stale := read.SettingsOrDefault()
	stale.Threshold.Count = 50
	if err := store.SetSettings(context.Background(), tid, read.MicrosoftTenantID, read.SettingsVersion, stale); !errors.Is(err, entra.ErrSettingsChanged) {
		t.Fatalf("a write over settings that changed: %v", err)
	}
	r := call(t, "PATCH", "/api/integrations/entra/settings", owner, map[string]any{"deprovisionThreshold": map[string]any{"count": 50}})
	expect(t, r, http.StatusOK, "")
	st := connection(t, tid)["settings"].(map[string]any)
	if st["deprovisionSync"] != false || st["autoProvision"] != true || st["deprovisionThreshold"].(map[string]any)["count"] != float64(50) {
		t.Fatalf("settings after two changes: %v", st)
	}
}

// failingWrites is the table with every BatchWriteItem refused.
type failingWrites struct{ dynamo.API }

func (failingWrites) BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	return nil, errors.New("injected: the table refused the write")
}

// A sync's lease never outlives it: a sync that fails on an error of ours
// frees the tenant for the retry, and a disconnect takes the lease from a
// sync in flight — which then records nothing — so a reconnect syncs at
// once rather than 16 minutes later.
func TestEntraLeaseIsFreedWhenASyncEnds(t *testing.T) {
	tid := newTenant(t, tenant.Enterprise)
	d := newDirectory(t, 2, "Staff")
	d.members(0, d.user(0), d.user(1))
	connect(t, tid, d)
	mapGroups(t, tid, map[string]tenant.Role{d.group(0): tenant.Member})

	real := stack.EntraSync.Syncer
	broken := *real
	broken.Store = &entra.Store{DB: failingWrites{real.Store.DB}, Table: real.Store.Table, Index: real.Store.Index}
	if _, err := broken.Sync(context.Background(), tid); err == nil {
		t.Fatal("a sync whose writes failed reported no error")
	}
	if out := syncNow(t, tid); out.Result.Provisioned != 2 {
		t.Fatalf("the sync after a failed one: %+v", out)
	}

	// A sync in flight (its lease taken as Sync takes it), then a disconnect.
	now := time.Now()
	if _, ok, _, err := real.Store.Acquire(context.Background(), tid, "in-flight", now, now.Add(time.Hour)); err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	expect(t, call(t, "POST", "/api/integrations/entra/disconnect", token(t, tid, "Owner"), nil), http.StatusNoContent, "")
	if holds, err := real.Store.BeginWrites(context.Background(), tid, "in-flight", time.Now().Add(time.Hour)); err != nil || holds {
		t.Fatalf("the sync in flight may still write after a disconnect: %v %v", holds, err)
	}
	connect(t, tid, d) // waits for the first sync after reconnecting: it ran at once
	if ok, err := real.Store.Finish(context.Background(), entra.Finish{TenantID: tid, LeaseID: "in-flight", MicrosoftTenantID: d.Org.ID, Status: entra.Connected}, time.Now()); err != nil || ok {
		t.Fatalf("the old sync recorded its result: %v %v", ok, err)
	}

	// A sync that had begun writing when the disconnect took its lease may
	// still be landing writes: no sync starts (and reads the accounts)
	// until it says its writes have returned.
	now = time.Now()
	if _, ok, _, err := real.Store.Acquire(context.Background(), tid, "writing", now, now.Add(time.Hour)); err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	if ok, err := real.Store.BeginWrites(context.Background(), tid, "writing", now.Add(time.Hour)); err != nil || !ok {
		t.Fatalf("begin writes: %v %v", ok, err)
	}
	expect(t, call(t, "POST", "/api/integrations/entra/disconnect", token(t, tid, "Owner"), nil), http.StatusNoContent, "")
	// Reconnected as the callback would, without its queued sync (the harness
	// acts with the stack's own credentials).
	admin := &entra.Store{DB: stack.DB, Table: real.Store.Table, Index: real.Store.Index}
	if err := admin.Connect(context.Background(), tid, "user-owner", "admin@example", d.Org, time.Now()); err != nil {
		t.Fatal(err)
	}
	if out, err := real.Sync(context.Background(), tid); err != nil || out.Ran || !out.Busy {
		t.Fatalf("a sync started while another's writes were in flight: %+v %v", out, err)
	}
	if err := real.Store.EndWrites(context.Background(), tid, "writing"); err != nil {
		t.Fatal(err)
	}
	if out := syncNow(t, tid); out.Status != entra.Connected {
		t.Fatalf("the sync after the writes returned: %+v", out)
	}
}

// noAccountReads is the table refusing every Query of the synced accounts.
type noAccountReads struct{ dynamo.API }

func (db noAccountReads) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	for _, v := range in.ExpressionAttributeValues {
		if s, ok := v.(*types.AttributeValueMemberS); ok && strings.Contains(s.Value, "#USER#") {
			return nil, errors.New("injected: the accounts were read")
		}
	}
	return db.API.Query(ctx, in, opts...)
}

// A sync of a directory unchanged since the last full write reads no
// account and writes nothing; any change of what the plan depends on —
// members, settings, mappings — and any sync that began writing and failed
// makes the next one do its full work.
func TestEntraUnchangedDirectoryReadsNoAccounts(t *testing.T) {
	tid := newTenant(t, tenant.Enterprise)
	d := newDirectory(t, 4, "Staff", "Admins")
	d.members(0, d.user(0), d.user(1), d.user(2))
	d.members(1, d.user(3))
	connect(t, tid, d)
	mapGroups(t, tid, map[string]tenant.Role{d.group(0): tenant.Member})
	if out := syncNow(t, tid); out.Result.Provisioned != 3 {
		t.Fatalf("first sync: %+v", out)
	}
	real := stack.EntraSync.Syncer
	with := func(db dynamo.API) *entra.Syncer {
		s := *real
		s.Store = &entra.Store{DB: db, Table: real.Store.Table, Index: real.Store.Index}
		return &s
	}
	blind := with(noAccountReads{real.Store.DB})
	skips := func(why string) {
		t.Helper()
		out, err := blind.Sync(context.Background(), tid)
		if err != nil || !out.Ran || out.Result.Outcome != entra.Succeeded || out.Result.Users != 3 {
			t.Fatalf("%s: the sync read the accounts or failed: %+v %v", why, out, err)
		}
	}
	reads := func(why string) {
		t.Helper()
		if _, err := blind.Sync(context.Background(), tid); err == nil {
			t.Fatalf("%s: the sync did not read the accounts", why)
		}
	}
	skips("unchanged")
	skips("unchanged again")
	expect(t, call(t, "PATCH", "/api/integrations/entra/settings", token(t, tid, "Owner"), map[string]any{"autoProvision": false}), http.StatusOK, "")
	reads("a setting changed")
	expect(t, call(t, "PATCH", "/api/integrations/entra/settings", token(t, tid, "Owner"), map[string]any{"autoProvision": true}), http.StatusOK, "")
	skips("the setting changed back")
	mapGroups(t, tid, map[string]tenant.Role{d.group(0): tenant.Admin})
	reads("a mapping changed")
	syncNow(t, tid)
	skips("after the role change was written")
	stack.Microsoft.Change(func() { d.Users[1].DisplayName = "Renamed" })
	reads("a member renamed")
	// A sync that began writing and failed leaves no fingerprint behind,
	// even when the directory is back as it was.
	if _, err := with(failingWrites{real.Store.DB}).Sync(context.Background(), tid); err == nil {
		t.Fatal("a sync whose writes failed reported no error")
	}
	stack.Microsoft.Change(func() { d.Users[1].DisplayName = "User 1" })
	reads("after a failed write")
	syncNow(t, tid)
	skips("after a full sync")
	// A day on, a sync does its full work however unchanged the directory.
	late := with(noAccountReads{real.Store.DB})
	late.Now = func() time.Time { return time.Now().Add(25 * time.Hour) }
	if _, err := late.Sync(context.Background(), tid); err == nil {
		t.Fatal("a day after the last full write, the sync did not read the accounts")
	}
}
