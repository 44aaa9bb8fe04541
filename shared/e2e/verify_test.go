package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/tenant"
)

// An Owner asks the endpoint to prove it is theirs: it echoes the
// challenge and the webhook shows verifiedAt, with a System row; a wrong
// echo, an error status or a body that is not the echo is 422 and changes
// nothing. A paused webhook can be verified; an unverified one receives
// events; a new URL clears verifiedAt and an edit of anything else keeps
// it. Other tenants, other roles and unknown ids are refused, and the
// challenges share the test events' limit.
func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	rv := newReceiver(t, nil)
	hook, _ := createWebhook(t, tid, rv.URL, "asset.created")
	path := "/api/integrations/webhooks/" + hook
	view := func() map[string]any { return call(t, "GET", path, owner, nil).json(t) }

	// Unverified, it receives events (the spec's flow does not change).
	key, _ := newKey(t, tid, "asset:create")
	createAsset(t, key, nil)
	waitFor(t, 15*time.Second, "a delivery to an unverified endpoint", func() bool { return len(rv.requests()) == 1 })
	if v := view(); v["verifiedAt"] != nil {
		t.Fatalf("verified before any challenge: %v", v)
	}

	expect(t, call(t, "POST", path+"/verify", token(t, tid, "Admin"), nil), http.StatusForbidden, "FORBIDDEN")
	expect(t, call(t, "POST", path+"/verify", token(t, newTenant(t, tenant.Enterprise), "Owner"), nil), http.StatusNotFound, "NOT_FOUND")
	expect(t, call(t, "POST", path+"/verify", token(t, newTenant(t, tenant.Growth), "Owner"), nil), http.StatusForbidden, "ENTERPRISE_REQUIRED")
	expect(t, call(t, "POST", "/api/integrations/webhooks/wh_nope/verify", owner, nil), http.StatusNotFound, "NOT_FOUND")

	// Wrong answers: 422 saying why, and nothing recorded.
	firstChallenge := time.Now()
	for _, c := range []struct {
		why    string
		answer func(w http.ResponseWriter, value string)
	}{
		{"does not match", func(w http.ResponseWriter, _ string) { _, _ = w.Write([]byte(`{"verification":"guess"}`)) }},
		{"HTTP 401", func(w http.ResponseWriter, value string) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"verification":"` + value + `"}`))
		}},
	} {
		rv.mu.Lock()
		rv.challengeAnswer = c.answer
		rv.mu.Unlock()
		r := call(t, "POST", path+"/verify", owner, nil)
		expect(t, r, http.StatusUnprocessableEntity, "VERIFICATION_FAILED")
		if !strings.Contains(string(r.Body), c.why) {
			t.Fatalf("a refusal that should say %q: %s", c.why, r.Body)
		}
	}
	if v := view(); v["verifiedAt"] != nil {
		t.Fatalf("verified by a wrong answer: %v", v)
	}

	// The echo, on a paused webhook (verify before resuming).
	rv.mu.Lock()
	rv.challengeAnswer = nil
	rv.mu.Unlock()
	expect(t, call(t, "POST", path+"/pause", owner, nil), http.StatusOK, "")
	before := time.Now().Add(-time.Second)
	r := call(t, "POST", path+"/verify", owner, map[string]any{"ignored": true})
	expect(t, r, http.StatusOK, "")
	at, err := time.Parse(time.RFC3339, asString(r.json(t)["verifiedAt"]))
	if err != nil || at.Before(before) || view()["verifiedAt"] != r.json(t)["verifiedAt"] || view()["status"] != "paused" {
		t.Fatalf("verified: %s; then %v", r.Body, view())
	}
	sys := call(t, "GET", "/api/integrations/activity?source=system&webhookId="+hook, owner, nil)
	if strings.Count(string(sys.Body), `"event":"webhook.verified"`) != 1 || strings.Contains(string(sys.Body), "receiver-secret") {
		t.Fatalf("System rows: %s", sys.Body)
	}

	// Three challenges so far: two more use up the minute's test events.
	// The budget refills one every 60/perMinute s, so a slow stack may
	// admit one more per refill since the first challenge; no others.
	expect(t, call(t, "POST", path+"/verify", owner, nil), http.StatusOK, "")
	expect(t, call(t, "POST", path+"/verify", owner, nil), http.StatusOK, "")
	every := time.Minute / time.Duration(stack.Config.AdminAPI.TestEventsPerMinute)
	refilled := 0
	var limited response
	for {
		limited = call(t, "POST", path+"/verify", owner, nil)
		if limited.Status != http.StatusOK {
			break
		}
		if refilled++; refilled > int(time.Since(firstChallenge)/every) {
			t.Fatalf("%d challenges admitted in %v past the minute's budget", refilled, time.Since(firstChallenge))
		}
	}
	expect(t, limited, http.StatusTooManyRequests, "RATE_LIMITED")
	if limited.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	rv.mu.Lock()
	challenged := rv.challenged
	rv.mu.Unlock()
	if challenged != 5+refilled {
		t.Fatalf("the endpoint was challenged %d times; want %d (none past the limit)", challenged, 5+refilled)
	}

	// An edit keeps the proof; a new URL clears it.
	expect(t, call(t, "PATCH", path, owner, map[string]any{"name": "Renamed"}), http.StatusOK, "")
	if v := view(); v["verifiedAt"] == nil {
		t.Fatalf("a rename cleared verifiedAt: %v", v)
	}
	r = call(t, "PATCH", path, owner, map[string]any{"url": rv.URL + "/moved"})
	expect(t, r, http.StatusOK, "")
	if r.json(t)["verifiedAt"] != nil || view()["verifiedAt"] != nil {
		t.Fatalf("a new URL kept verifiedAt: %s", r.Body)
	}
}
