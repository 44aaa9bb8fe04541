package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/tenant"
)

// A key's own rate limit (issue 24, item 4): on top of the tenant's, the
// key's requests past it are 429 RATE_LIMITED with Retry-After and the
// RateLimit fields naming "key", while the tenant's other keys go on; a
// roll passes the limit and its state on (old and new key share one
// budget); the limit lives in the tenant limit's items (no item of its
// own) and costs no DynamoDB call: a limited key's request makes as many
// calls as an unlimited one's.
func TestKeyRateLimitE2E(t *testing.T) {
	t.Parallel()
	srv, db := integrationGateway(t, stack.Config.IntegrationAPI)
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	for _, bad := range []any{
		map[string]any{"requests": 0, "per": "second"}, map[string]any{"requests": 1001, "per": "second"},
		map[string]any{"requests": 60001, "per": "minute"}, map[string]any{"requests": 5, "per": "hour"},
		map[string]any{"requests": 5}, map[string]any{"per": "second"}, map[string]any{"requests": 1.5, "per": "second"},
		map[string]any{"requests": 5, "per": "second", "burst": 9}, "5/s", 5, []any{5, "second"},
	} {
		r := call(t, "POST", "/api/integrations/api-keys", owner, map[string]any{"name": "x", "permissions": []string{}, "rateLimit": bad})
		expect(t, r, http.StatusBadRequest, "VALIDATION_ERROR")
		if !strings.Contains(string(r.Body), "rateLimit") {
			t.Fatalf("%v: the error names no field rateLimit: %s", bad, r.Body)
		}
	}
	create := func(limit map[string]any) (key, id string) {
		t.Helper()
		body := map[string]any{"name": "Gateway", "permissions": []string{"asset:create"}}
		if limit != nil {
			body["rateLimit"] = limit
		}
		r := call(t, "POST", "/api/integrations/api-keys", owner, body)
		expect(t, r, http.StatusCreated, "")
		got, _ := r.json(t)["rateLimit"].(map[string]any)
		if limit != nil && (got["requests"] != float64(limit["requests"].(int)) || got["per"] != limit["per"]) || limit == nil && r.json(t)["rateLimit"] != nil {
			t.Fatalf("created with rateLimit %v, the key shows %v", limit, r.json(t)["rateLimit"])
		}
		return asString(r.json(t)["key"]), asString(r.json(t)["id"])
	}
	send := func(key string, n int) response {
		return callAt(t, srv.URL, "POST", "/api/integrations/assets/create", key,
			map[string]any{"name": fmt.Sprintf("Meter %d", n), "categoryName": "Meters", "statusName": "ACTIVE"})
	}
	limited, limitedID := create(map[string]any{"requests": 3, "per": "minute"})
	free, _ := create(nil)
	// A roll passes the limit on, and the pair shares it: old and new key
	// together get the one burst of 3.
	r := call(t, "POST", "/api/integrations/api-keys/"+limitedID+"/roll", owner, map[string]any{"overlapHours": 1})
	expect(t, r, http.StatusCreated, "")
	if got, _ := r.json(t)["rateLimit"].(map[string]any); got["requests"] != float64(3) || got["per"] != "minute" {
		t.Fatalf("rolled key's rateLimit: %v", r.json(t)["rateLimit"])
	}
	pair := []string{limited, asString(r.json(t)["key"])}

	// The burst of 3 at once, then one each 20 s: the 4th is refused by the key.
	start := time.Now()
	admitted := 0
	var refused response
	for i := range 10 {
		r := send(pair[i%2], i)
		if r.Status == http.StatusTooManyRequests {
			refused = r
			break
		}
		expect(t, r, http.StatusCreated, "")
		if got, want := r.Header.Get("RateLimit-Policy"), `"tenant";q=200;w=2, "key";q=3;w=60`; got != want {
			t.Fatalf("admitted: RateLimit-Policy %q, want %q", got, want)
		}
		admitted++
	}
	// One less is allowed, as in TestRateLimitPerTenantE2E; each key with
	// a budget of its own would have had 6.
	if refused.Status == 0 || admitted < 3-1 || admitted > 3+int(time.Since(start)/(20*time.Second)) {
		t.Fatalf("%d admitted before a 429 (status %d), want the rolled pair's one burst of 3", admitted, refused.Status)
	}
	expect(t, refused, http.StatusTooManyRequests, "RATE_LIMITED")
	wait := retryAfter(t, refused)
	if got, want := refused.Header.Get("RateLimit"), `"key";r=0;t=`+strconv.Itoa(wait); got != want || wait > 20 {
		t.Fatalf("RateLimit %q (Retry-After %d), want %q within the key's interval of 20 s", got, wait, want)
	}
	if got := refused.Header.Get("RateLimit-Policy"); got != `"key";q=3;w=60` {
		t.Fatalf("refused: RateLimit-Policy %q", got)
	}
	// The tenant's other key is not held back.
	for i := range 5 {
		r := send(free, 100+i)
		expect(t, r, http.StatusCreated, "")
		if got := r.Header.Get("RateLimit-Policy"); got != `"tenant";q=200;w=2` {
			t.Fatalf("an unlimited key: RateLimit-Policy %q", got)
		}
	}

	// The key's state is an attribute of the tenant limit's item, not an item of its own.
	rates := regexp.MustCompile(`"PK":"TENANT#`+regexp.QuoteMeta(tid)+`#RATE#[^"]*"`).FindAllString(tenantIntegrationsText(t, tid), -1)
	if len(rates) != 1 || !strings.Contains(rates[0], "#RATE#API#0") {
		t.Fatalf("rate-limit items %v, want only the tenant's API limit (one shard)", rates)
	}
	if text := tenantIntegrationsText(t, tid); !regexp.MustCompile(`"s_[A-Za-z0-9_-]{12}":\d+`).MatchString(text) {
		t.Fatalf("no key limit attribute in the tenant's items:\n%s", text)
	}

	// No call of its own: a request with a limited key makes as many
	// DynamoDB calls as one with an unlimited key (each warmed first, so
	// neither writes lastUsedAt).
	roomy, _ := create(map[string]any{"requests": 1000, "per": "second"})
	calls := func(key string, n int) int64 {
		before := db.calls.Load()
		expect(t, send(key, n), http.StatusCreated, "")
		return db.calls.Load() - before
	}
	calls(roomy, 300)
	calls(free, 301)
	withLimit, without := calls(roomy, 302), calls(free, 303)
	t.Logf("DynamoDB calls per request: %d with a key limit, %d without", withLimit, without)
	if withLimit != without {
		t.Fatalf("a request with a key limit made %d DynamoDB calls, one without %d", withLimit, without)
	}
}

// PATCH /api-keys/{id} changes a working key's name, allowlist and rate
// limit in place: the very next request meets each change, the secret
// stays, every change is a System row saying who changed what, and bad
// bodies, permissions, other tenants' keys and ended keys change nothing.
func TestUpdateKeyE2E(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	key, id := newKey(t, tid, "asset:create")
	path := "/api/integrations/api-keys/" + id
	patch := func(body any) response { return call(t, "PATCH", path, owner, body) }
	create := func() response {
		return call(t, "POST", "/api/integrations/assets/create", key, map[string]any{"name": "Crane", "categoryName": "Cranes", "statusName": "ACTIVE"})
	}
	expect(t, create(), http.StatusCreated, "")

	// Throttled at once: a limit of 1 a minute admits one more, then refuses.
	r := patch(map[string]any{"rateLimit": map[string]any{"requests": 1, "per": "minute"}})
	expect(t, r, http.StatusOK, "")
	if got, _ := r.json(t)["rateLimit"].(map[string]any); got["requests"] != float64(1) || r.json(t)["id"] != id {
		t.Fatalf("the answer: %s", r.Body)
	}
	expect(t, create(), http.StatusCreated, "")
	refused := create()
	expect(t, refused, http.StatusTooManyRequests, "RATE_LIMITED")
	if got := refused.Header.Get("RateLimit-Policy"); got != `"key";q=1;w=60` {
		t.Fatalf("refused by %q", got)
	}
	// Lifted (null): only the tenant's limit again.
	expect(t, patch(map[string]any{"rateLimit": nil}), http.StatusOK, "")
	if r := create(); r.Status != http.StatusCreated || r.Header.Get("RateLimit-Policy") != `"tenant";q=200;w=2` {
		t.Fatalf("after lifting the limit: %d %q", r.Status, r.Header.Get("RateLimit-Policy"))
	}
	// Confined to other networks, then anywhere again; renamed.
	expect(t, patch(map[string]any{"allowedIps": []string{"10.0.0.0/8"}}), http.StatusOK, "")
	expect(t, create(), http.StatusForbidden, "IP_NOT_ALLOWED")
	r = patch(map[string]any{"allowedIps": []string{}, "name": "  Crane gateway "})
	expect(t, r, http.StatusOK, "")
	if r.json(t)["name"] != "Crane gateway" || len(r.json(t)["allowedIps"].([]any)) != 0 || r.json(t)["rateLimit"] != nil {
		t.Fatalf("the answer: %s", r.Body)
	}
	expect(t, create(), http.StatusCreated, "")

	// Each change is a System row: who and what, never the key.
	var sys string
	waitFor(t, 10*time.Second, "four apikey.updated rows", func() bool {
		sys = string(call(t, "GET", "/api/integrations/activity?source=system", owner, nil).Body)
		return strings.Count(sys, `"event":"apikey.updated"`) == 4
	})
	for _, want := range []string{"rateLimit: 1 a minute", "rateLimit: the tenant's only", "allowedIps: 1 network(s)", `name: \"Crane gateway\"; allowedIps: anywhere`} {
		if !strings.Contains(sys, want) {
			t.Fatalf("no System row says %q: %s", want, sys)
		}
	}
	if strings.Contains(sys, key[8:40]) {
		t.Fatal("a System row holds the key")
	}

	// Bad input changes nothing.
	for _, bad := range []any{
		map[string]any{}, map[string]any{"permissions": []string{"asset:update"}}, map[string]any{"name": ""},
		map[string]any{"name": nil}, map[string]any{"allowedIps": []string{"10.0.0.0/33"}}, map[string]any{"allowedIps": nil},
		map[string]any{"rateLimit": map[string]any{"requests": 0, "per": "second"}}, map[string]any{"rateLimit": "fast"},
		map[string]any{"rateLimit": map[string]any{"requests": 5, "per": "second", "burst": 9}}, []any{}, "x",
	} {
		r := patch(bad)
		expect(t, r, http.StatusBadRequest, "VALIDATION_ERROR")
	}
	expect(t, call(t, "PATCH", path, owner, `{"name":"a",`), http.StatusBadRequest, "")
	if v := call(t, "GET", "/api/integrations/api-keys", owner, nil).json(t)["apiKeys"].([]any)[0].(map[string]any); v["name"] != "Crane gateway" || v["rateLimit"] != nil {
		t.Fatalf("bad bodies changed the key: %v", v)
	}
	// Only the Owner of the key's own tenant; a malformed or unknown id is 404.
	expect(t, call(t, "PATCH", path, token(t, tid, "Admin"), map[string]any{"name": "x"}), http.StatusForbidden, "")
	other := newTenant(t, tenant.Enterprise)
	expect(t, call(t, "PATCH", path, token(t, other, "Owner"), map[string]any{"name": "mine"}), http.StatusNotFound, "NOT_FOUND")
	expect(t, call(t, "PATCH", "/api/integrations/api-keys/key_nope", owner, map[string]any{"name": "x"}), http.StatusNotFound, "NOT_FOUND")
	// An ended key cannot change: expired, then revoked.
	expireAt(t, tid, id, time.Now().Add(-time.Second))
	expect(t, patch(map[string]any{"name": "late"}), http.StatusConflict, "CONFLICT")
	_, id2 := newKey(t, tid)
	expect(t, call(t, "POST", "/api/integrations/api-keys/"+id2+"/revoke", owner, nil), http.StatusOK, "")
	expect(t, call(t, "PATCH", "/api/integrations/api-keys/"+id2, owner, map[string]any{"name": "late"}), http.StatusConflict, "CONFLICT")
}
