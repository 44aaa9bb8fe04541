package msgraph_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/msgraph"
	"github.com/uniasset/integrations/shared/msgraph/msgraphfake"
)

// bearer adds a fixed token, as oauth2.Transport adds the tenant's.
type bearer string

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

// demo is a directory with nested groups, a disabled user, a group that is
// not a security group and more groups than a page holds.
func demo() *msgraphfake.Directory {
	d := &msgraphfake.Directory{Org: msgraph.Organization{ID: "tid-1", DisplayName: "Contoso",
		VerifiedDomains: []msgraph.Domain{{Name: "contoso.onmicrosoft.com", IsInitial: true}, {Name: "contoso.com", IsDefault: true}}}}
	for i := range 5 {
		d.Users = append(d.Users, msgraph.User{ID: fmt.Sprintf("u%d", i), DisplayName: fmt.Sprintf("User %d", i),
			Mail: fmt.Sprintf("u%d@contoso.com", i), UserPrincipalName: fmt.Sprintf("u%d@contoso.com", i), AccountEnabled: i != 4})
	}
	g := func(id string, security bool, members ...string) msgraphfake.Group {
		return msgraphfake.Group{Group: msgraph.Group{ID: id, DisplayName: "Group " + id}, Security: security, Members: members}
	}
	d.Groups = []msgraphfake.Group{
		g("admins", true, "u0", "nested"), g("nested", true, "u1", "u4", "deeper"), g("deeper", true, "u2", "u1", "admins"),
		g("mail", false, "u3"), g("empty", true), g("viewers", true, "u3"),
	}
	return d
}

func setup(t *testing.T) (*msgraph.Client, *msgraphfake.Server, *[]time.Duration) {
	t.Helper()
	fake := msgraphfake.New()
	fake.PageSize = 2
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	fake.BaseURL = srv.URL + "/v1.0"
	fake.Grant("token-1", demo())
	var waits []time.Duration
	c := &msgraph.Client{HTTP: &http.Client{Transport: bearer("token-1")}, BaseURL: srv.URL + "/v1.0",
		Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	return c, fake, &waits
}

func TestReadsEveryPage(t *testing.T) {
	c, _, _ := setup(t)
	ctx := context.Background()
	org, err := c.Organization(ctx)
	if err != nil || org.ID != "tid-1" || org.DefaultDomain() != "contoso.com" {
		t.Fatalf("organization: %+v %v", org, err)
	}
	groups, err := c.SecurityGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, g := range groups {
		ids = append(ids, g.ID)
	}
	if !slices.Equal(ids, []string{"admins", "nested", "deeper", "empty", "viewers"}) {
		t.Fatalf("security groups over 3 pages: %v", ids)
	}
	users, err := c.TransitiveUsers(ctx, "admins")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range users {
		got = append(got, fmt.Sprintf("%s:%v:%s", u.ID, u.AccountEnabled, u.UserPrincipalName))
	}
	slices.Sort(got)
	want := []string{"u0:true:u0@contoso.com", "u1:true:u1@contoso.com", "u2:true:u2@contoso.com", "u4:false:u4@contoso.com"}
	if !slices.Equal(got, want) {
		t.Fatalf("transitive users (nested, cyclic, a disabled one): %v", got)
	}
	if users, err := c.TransitiveUsers(ctx, "empty"); err != nil || len(users) != 0 {
		t.Fatalf("an empty group: %v %v", users, err)
	}
	var gerr *msgraph.Error
	if _, err := c.TransitiveUsers(ctx, "gone"); !errors.As(err, &gerr) || gerr.Status != 404 || gerr.Code != "Request_ResourceNotFound" {
		t.Fatalf("an unknown group: %v", err)
	}
}

func TestThrottlingIsWaitedOut(t *testing.T) {
	c, fake, waits := setup(t)
	fake.Throttle(3)
	if _, err := c.SecurityGroups(context.Background()); err != nil {
		t.Fatalf("three 429s, then the pages: %v", err)
	}
	if !slices.Equal(*waits, []time.Duration{time.Second, time.Second, time.Second}) {
		t.Fatalf("waits %v, want Retry-After's 1 s three times", *waits)
	}
	fake.Throttle(100)
	var gerr *msgraph.Error
	if _, err := c.SecurityGroups(context.Background()); !errors.As(err, &gerr) || gerr.Status != 429 {
		t.Fatalf("throttled past the retries: %v", err)
	}
}

// A page that cannot be read fails the whole read: never a partial list.
func TestAFailingPageFailsTheRead(t *testing.T) {
	c, fake, _ := setup(t)
	fake.FailPage(2)
	if groups, err := c.SecurityGroups(context.Background()); err == nil || groups != nil {
		t.Fatalf("page 2 failing: %d groups, %v", len(groups), err)
	}
}

func TestARevokedTokenIsUnauthorized(t *testing.T) {
	c, fake, waits := setup(t)
	fake.Revoke()
	_, err := c.SecurityGroups(context.Background())
	var gerr *msgraph.Error
	if !msgraph.Unauthorized(err) || !errors.As(err, &gerr) || gerr.Code != "InvalidAuthenticationToken" || len(*waits) != 0 {
		t.Fatalf("revoked: %v (waits %v)", err, *waits)
	}
}

// The token must never follow a next link to another host, and a wait
// longer than the client allows fails at once.
func TestHostileAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("slow") != "" {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, `{"value":[{"id":"g1"}],"@odata.nextLink":"https://evil.example/v1.0/groups?$skiptoken=1"}`)
	}))
	defer srv.Close()
	c := &msgraph.Client{HTTP: &http.Client{Transport: bearer("t")}, BaseURL: srv.URL + "/v1.0"}
	if _, err := c.SecurityGroups(context.Background()); err == nil {
		t.Fatal("followed a next link to another host")
	}
	c.BaseURL = srv.URL + "/v1.0?slow=1&"
	var waits []time.Duration
	c.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	var gerr *msgraph.Error
	if _, err := c.Organization(context.Background()); !errors.As(err, &gerr) || gerr.Status != 429 || len(waits) != 0 {
		t.Fatalf("a Retry-After of an hour: %v (waited %v)", err, waits)
	}
}

// A Retry-After longer than the caller has left fails the read at once:
// waiting would only end in the caller's timeout.
func TestRetryAfterPastTheDeadlineFailsAtOnce(t *testing.T) {
	c, fake, waits := setup(t)
	fake.ThrottleFor(1, 30)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Organization(ctx)
	var ge *msgraph.Error
	if !errors.As(err, &ge) || ge.Status != http.StatusTooManyRequests || len(*waits) != 0 {
		t.Fatalf("err %v, waits %v; want the 429 and no wait", err, *waits)
	}
	// With the time to wait, it waits and reads.
	fake.ThrottleFor(1, 3)
	if _, err := c.Organization(ctx); err != nil || !slices.Equal(*waits, []time.Duration{3 * time.Second}) {
		t.Fatalf("err %v, waits %v", err, *waits)
	}
}
