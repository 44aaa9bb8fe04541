package e2e

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/uniasset/integrations/shared/tenant"
)

// verifies reports whether a Standard Webhooks library holding secret
// accepts the delivery.
func verifies(t *testing.T, secret string, got received) bool {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return wh.Verify(got.Body, got.Header) == nil
}

// specSigned reports whether X-UniAsset-Signature is keyed by secret.
func specSigned(secret string, got received) bool {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(got.Body)
	return got.Header.Get("X-UniAsset-Signature") == hex.EncodeToString(mac.Sum(nil))
}

// A rotation with the default overlap: every delivery verifies with the old
// secret and, once the dispatchers read the webhook again (within
// WEBHOOK_CACHE_TTL), with the new one too; X-UniAsset-Signature stays on
// the old one. A rotation with overlapHours 0 and the caller's secret ends
// both earlier ones. Five rotations a day, then 429; bad bodies, other
// tenants and other roles are refused; each rotation is a System row that
// holds no secret.
func TestRotateSecret(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	rv := newReceiver(t, nil)
	hook, s0 := createWebhook(t, tid, rv.URL, "asset.created")
	rotate := "/api/integrations/webhooks/" + hook + "/rotate-secret"
	key, _ := newKey(t, tid, "asset:create")
	// deliverUntil creates assets one at a time until a delivery satisfies ok.
	deliverUntil := func(what string, ok func(received) bool) received {
		t.Helper()
		for range 40 {
			n := len(rv.requests())
			createAsset(t, key, nil)
			waitFor(t, 15*time.Second, "a delivery", func() bool { return len(rv.requests()) > n })
			if got := rv.requests()[n]; ok(got) {
				return got
			}
		}
		t.Fatalf("no delivery %s", what)
		return received{}
	}

	// Refused, and nothing changed.
	for _, bad := range []any{
		map[string]any{"overlapHours": -1}, map[string]any{"overlapHours": 73}, map[string]any{"overlapHours": "24"},
		map[string]any{"overlapHours": 1.5}, map[string]any{"secret": "shh"}, map[string]any{"secret": s0},
		map[string]any{"overlap": 24}, []any{}, "x",
	} {
		expect(t, call(t, "POST", rotate, owner, bad), http.StatusBadRequest, "VALIDATION_ERROR")
	}
	expect(t, call(t, "POST", rotate, token(t, tid, "Admin"), nil), http.StatusForbidden, "FORBIDDEN")
	expect(t, call(t, "POST", rotate, token(t, newTenant(t, tenant.Enterprise), "Owner"), nil), http.StatusNotFound, "NOT_FOUND")
	expect(t, call(t, "POST", "/api/integrations/webhooks/wh_nope/rotate-secret", owner, nil), http.StatusNotFound, "NOT_FOUND")
	first := deliverUntil("before the rotation", func(received) bool { return true })
	if !verifies(t, s0, first) || !specSigned(s0, first) {
		t.Fatal("the first delivery does not verify with the webhook's secret")
	}

	// A rotation with no body: a new secret, the old one signing beside it for 24 hours.
	before := time.Now()
	r := call(t, "POST", rotate, owner, nil)
	expect(t, r, http.StatusOK, "")
	view := r.json(t)
	s1, _ := view["secret"].(string)
	until, _ := time.Parse(time.RFC3339, asString(view["previousSecretsUntil"]))
	if !strings.HasPrefix(s1, "whsec_") || s1 == s0 || until.Before(before.Add(24*time.Hour-time.Minute)) || until.After(time.Now().Add(24*time.Hour)) || view["secretRotatedAt"] == nil {
		t.Fatalf("rotation answered %s", r.Body)
	}
	if got := call(t, "GET", "/api/integrations/webhooks/"+hook, owner, nil).json(t); got["secret"] != nil || got["previousSecretsUntil"] != view["previousSecretsUntil"] {
		t.Fatalf("the webhook after a rotation: %v", got)
	}
	both := deliverUntil("signed with the new secret", func(got received) bool { return verifies(t, s1, got) })
	if !verifies(t, s0, both) || !specSigned(s0, both) || len(strings.Fields(both.Header.Get("webhook-signature"))) != 2 {
		t.Fatalf("during the overlap: old secret verifies %v, X-UniAsset-Signature on the old %v, webhook-signature %q",
			verifies(t, s0, both), specSigned(s0, both), both.Header.Get("webhook-signature"))
	}
	for _, got := range rv.requests() { // before and after the dispatchers saw the rotation
		if !verifies(t, s0, got) {
			t.Fatal("a delivery during the overlap does not verify with the old secret")
		}
	}

	// The caller's own secret, ending the overlap now (a leak).
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	s2 := "whsec_" + base64.StdEncoding.EncodeToString(raw)
	expect(t, call(t, "POST", rotate, owner, map[string]any{"secret": s1, "overlapHours": 0}), http.StatusBadRequest, "VALIDATION_ERROR")
	r = call(t, "POST", rotate, owner, map[string]any{"secret": s2, "overlapHours": 0})
	expect(t, r, http.StatusOK, "")
	if view := r.json(t); view["secret"] != s2 || view["previousSecretsUntil"] != nil {
		t.Fatalf("rotation with overlap 0 answered %s", r.Body)
	}
	only := deliverUntil("signed with the new secret alone", func(got received) bool { return verifies(t, s2, got) && !verifies(t, s0, got) })
	if verifies(t, s1, only) || !specSigned(s2, only) || len(strings.Fields(only.Header.Get("webhook-signature"))) != 1 {
		t.Fatalf("after an overlap of 0: s1 verifies %v, X-UniAsset-Signature on the new %v", verifies(t, s1, only), specSigned(s2, only))
	}

	// Five in 24 hours, then 429 until the first leaves the window.
	for range 3 {
		expect(t, call(t, "POST", rotate, owner, map[string]any{"overlapHours": 1}), http.StatusOK, "")
	}
	r = call(t, "POST", rotate, owner, nil)
	expect(t, r, http.StatusTooManyRequests, "RATE_LIMITED")
	if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 23*3600 || secs > 24*3600 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}

	// Five System rows, none holding a secret.
	rows := call(t, "GET", "/api/integrations/activity?source=system&webhookId="+hook, owner, nil)
	if strings.Contains(string(rows.Body), "whsec_") || strings.Count(string(rows.Body), `"webhook.secret_rotated"`) != 5 {
		t.Fatalf("system rows: %s", rows.Body)
	}
}

// asString is a JSON value as a string ("" for null or another type).
func asString(v any) string { s, _ := v.(string); return s }
