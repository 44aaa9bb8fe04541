package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/tenant"
)

// deliveryRow finds the tenant's one webhook row in the Activity Log.
func deliveryRow(t *testing.T, tenantID string) map[string]any {
	t.Helper()
	rows := call(t, "GET", "/api/integrations/activity?source=webhook", token(t, tenantID, "Owner"), nil).json(t)["rows"].([]any)
	if len(rows) != 1 {
		t.Fatalf("%d webhook rows, want 1", len(rows))
	}
	return rows[0].(map[string]any)
}

// A failed delivery is resent from its Activity Log row: one more attempt,
// under the same webhook-id, recorded on the row; a failing resend is that
// one attempt (no new retry schedule); a delivered one can be resent too.
// Who resent it is a System row. Other tenants' ids, malformed ids, roles
// below Owner, a paused or deleted webhook, and a flood are refused.
func TestResendDelivery(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	// The first delivery's three attempts fail (RETRY_SCHEDULE is 1s,1s in
	// the tests), and so does the first resend; later ones succeed.
	rv := newReceiver(t, func(n int) int {
		if n <= 4 {
			return 500
		}
		return 200
	})
	hook, _ := createWebhook(t, tid, rv.URL, "asset.created")
	key, _ := newKey(t, tid, "asset:create")
	createAsset(t, key, nil)
	settled(t, tid)
	row := deliveryRow(t, tid)
	id := row["id"].(string)
	if row["status"] != "failed" || len(rv.requests()) != 3 {
		t.Fatalf("before the resend: %v, %d requests", row, len(rv.requests()))
	}
	resend := "/api/integrations/activity/" + id + "/resend"

	// Refused, and nothing sent: other roles, another tenant, ids that are not a delivery's.
	other := newTenant(t, tenant.Enterprise)
	expect(t, call(t, "POST", resend, token(t, tid, "Admin"), nil), http.StatusForbidden, "FORBIDDEN")
	expect(t, call(t, "POST", resend, token(t, other, "Owner"), nil), http.StatusNotFound, "NOT_FOUND")
	for _, bad := range []string{"whk-", "whk-%21%21", "whk-" + strings.Repeat("QQ", 200), "api-0-01j0000000000000000000000", "sys-x", "x"} {
		expect(t, call(t, "POST", "/api/integrations/activity/"+bad+"/resend", owner, nil), http.StatusNotFound, "NOT_FOUND")
	}

	// The first resend fails: one attempt, and the delivery is failed again.
	r := call(t, "POST", resend, owner, nil)
	expect(t, r, http.StatusAccepted, "")
	if got := r.json(t); got["status"] != "pending" || got["attempts"] != float64(3) || got["webhookId"] != hook {
		t.Fatalf("resend answered %s", r.Body)
	}
	waitFor(t, 15*time.Second, "the resent attempt", func() bool { return len(rv.requests()) == 4 })
	settled(t, tid)
	detail := call(t, "GET", "/api/integrations/activity/"+id, owner, nil).json(t)
	if detail["status"] != "failed" || len(detail["attempts"].([]any)) != 4 || len(rv.requests()) != 4 {
		t.Fatalf("after a failed resend: %s attempts, status %v, %d requests", detail["attempts"], detail["status"], len(rv.requests()))
	}

	// The second succeeds, under the same webhook-id as the first attempt.
	expect(t, call(t, "POST", resend, owner, nil), http.StatusAccepted, "")
	waitFor(t, 15*time.Second, "the second resend", func() bool { return len(rv.requests()) == 5 })
	settled(t, tid)
	got := rv.requests()
	if first, last := got[0].Header.Get("webhook-id"), got[4].Header.Get("webhook-id"); first == "" || first != last {
		t.Fatalf("webhook-id %q, then %q", first, last)
	}
	if string(got[0].Body) != string(got[4].Body) {
		t.Fatalf("the resent body differs:\n%s\n%s", got[0].Body, got[4].Body)
	}
	if row := deliveryRow(t, tid); row["status"] != "delivered" {
		t.Fatalf("after the second resend: %v", row)
	}

	// Each resend is a System row naming who did it.
	sys := call(t, "GET", "/api/integrations/activity?source=system&webhookId="+hook, owner, nil).json(t)["rows"].([]any)
	resent := 0
	for _, e := range sys {
		if e := e.(map[string]any); e["event"] == "delivery.resent" && strings.Contains(e["details"].(string), "resent by") {
			resent++
		}
	}
	if resent != 2 {
		t.Fatalf("%d delivery.resent rows, want 2: %v", resent, sys)
	}

	// A paused webhook's delivery is not resent.
	expect(t, call(t, "POST", "/api/integrations/webhooks/"+hook+"/pause", owner, nil), http.StatusOK, "")
	expect(t, call(t, "POST", resend, owner, nil), http.StatusConflict, "CONFLICT")
	expect(t, call(t, "POST", "/api/integrations/webhooks/"+hook+"/resume", owner, nil), http.StatusOK, "")

	// A flood: the webhook's resends are limited (10 at once by default), and
	// the resends of one delivery still make one attempt at a time.
	limited := 0
	for range 12 {
		switch r := call(t, "POST", resend, owner, nil); r.Status {
		case http.StatusAccepted, http.StatusConflict: // conflict: an attempt in flight
		case http.StatusTooManyRequests:
			if r.Header.Get("Retry-After") == "" {
				t.Fatalf("429 without Retry-After")
			}
			limited++
		default:
			t.Fatalf("resend in a flood: %d %s", r.Status, r.Body)
		}
	}
	if limited == 0 {
		t.Fatal("12 resends in a row were all admitted")
	}
	settled(t, tid)
	if n := len(rv.requests()); n < 6 || n > 5+12-limited {
		t.Fatalf("%d requests after %d admitted resends", n, 12-limited)
	}

	// A deleted webhook's delivery is not resent.
	expect(t, call(t, "DELETE", "/api/integrations/webhooks/"+hook, owner, nil), http.StatusNoContent, "")
	expect(t, call(t, "POST", resend, owner, nil), http.StatusConflict, "CONFLICT")
}
