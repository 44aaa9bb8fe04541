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
	rates := regexp.MustCompile(`"PK":"TENANT#` + regexp.QuoteMeta(tid) + `#RATE#[^"]*"`).FindAllString(tenantIntegrationsText(t, tid), -1)
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
