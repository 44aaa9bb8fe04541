package e2e

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/tenant"
)

// A receiver down while three events fail comes back; one recover request
// queues the three again (same webhook-ids, delivered now) and its progress
// shows them; a second recover finds nothing failed and sends nothing. Bad
// windows, other tenants, other roles and a paused webhook are refused.
func TestRecoverWebhook(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	var up atomic.Bool
	rv := newReceiver(t, func(int) int {
		if up.Load() {
			return 200
		}
		return 500
	})
	hook, _ := createWebhook(t, tid, rv.URL, "asset.created")
	key, _ := newKey(t, tid, "asset:create")
	start := time.Now()
	for range 3 {
		createAsset(t, key, nil)
	}
	settled(t, tid)
	failed := map[string]bool{}
	for _, d := range allDeliveries(t, tid) {
		if d.Status != delivery.Failed {
			t.Fatalf("delivery %s is %s before the recovery", d.DeliveryID, d.Status)
		}
		failed[d.DeliveryID] = true
	}
	if len(failed) != 3 {
		t.Fatalf("%d failed deliveries, want 3", len(failed))
	}
	recoverURL := "/api/integrations/webhooks/" + hook + "/recover"
	since := isotime.Format(start.Add(-time.Minute))

	// Refused, and nothing queued.
	for _, bad := range []any{
		map[string]any{}, map[string]any{"since": "yesterday"}, map[string]any{"since": isotime.Format(time.Now().Add(-15 * 24 * time.Hour))},
		map[string]any{"since": isotime.Format(time.Now().Add(time.Hour))}, map[string]any{"since": since, "until": since},
		map[string]any{"since": since, "status": "failed"}, "x",
	} {
		expect(t, call(t, "POST", recoverURL, owner, bad), http.StatusBadRequest, "VALIDATION_ERROR")
	}
	body := map[string]any{"since": since}
	expect(t, call(t, "POST", recoverURL, token(t, tid, "Admin"), body), http.StatusForbidden, "FORBIDDEN")
	expect(t, call(t, "POST", recoverURL, token(t, newTenant(t, tenant.Enterprise), "Owner"), body), http.StatusNotFound, "NOT_FOUND")
	expect(t, call(t, "POST", "/api/integrations/webhooks/"+hook+"/pause", owner, nil), http.StatusOK, "")
	expect(t, call(t, "POST", recoverURL, owner, body), http.StatusConflict, "CONFLICT")
	expect(t, call(t, "POST", "/api/integrations/webhooks/"+hook+"/resume", owner, nil), http.StatusOK, "")
	if n := len(rv.requests()); n != 9 {
		t.Fatalf("%d requests before the recovery, want 9", n)
	}

	// The receiver is back: recover.
	up.Store(true)
	r := call(t, "POST", recoverURL, owner, body)
	expect(t, r, http.StatusAccepted, "")
	progress := r.Header.Get("Location")
	if !strings.HasPrefix(progress, "/api/integrations/webhooks/"+hook+"/recoveries/rcv_") || r.json(t)["createdBy"] == "" {
		t.Fatalf("recover answered %s (Location %q)", r.Body, progress)
	}
	done := func() map[string]any {
		var rec map[string]any
		waitFor(t, 30*time.Second, "the recovery to finish", func() bool {
			rec = call(t, "GET", progress, owner, nil).json(t)
			return rec["state"] == "done"
		})
		return rec
	}
	if rec := done(); rec["queued"] != float64(3) || rec["scanned"].(float64) < 3 || rec["truncated"] != false || rec["finishedAt"] == nil {
		t.Fatalf("recovery: %v", rec)
	}
	settled(t, tid)
	got := rv.requests()
	if len(got) != 12 {
		t.Fatalf("%d requests after the recovery, want 12", len(got))
	}
	var again []string
	for _, req := range got[9:] {
		again = append(again, req.Header.Get("webhook-id"))
		if !failed[req.Header.Get("webhook-id")] {
			t.Fatalf("recovered a delivery that had not failed: %s", req.Header.Get("webhook-id"))
		}
	}
	if slices.Sort(again); len(slices.Compact(again)) != 3 {
		t.Fatalf("recovered webhook-ids %v", again)
	}
	for _, d := range allDeliveries(t, tid) {
		if d.Status != delivery.Delivered {
			t.Fatalf("delivery %s is %s after the recovery", d.DeliveryID, d.Status)
		}
	}

	// Again: nothing is failed, nothing is sent.
	r = call(t, "POST", recoverURL, owner, body)
	expect(t, r, http.StatusAccepted, "")
	progress = r.Header.Get("Location")
	if rec := done(); rec["queued"] != float64(0) {
		t.Fatalf("second recovery: %v", rec)
	}
	settled(t, tid)
	if n := len(rv.requests()); n != 12 {
		t.Fatalf("%d requests after a second recovery, want 12", n)
	}

	// Progress is the tenant's own; each recovery is a System row.
	expect(t, call(t, "GET", progress, token(t, newTenant(t, tenant.Enterprise), "Owner"), nil), http.StatusNotFound, "NOT_FOUND")
	expect(t, call(t, "GET", "/api/integrations/webhooks/"+hook+"/recoveries/rcv_x", owner, nil), http.StatusNotFound, "NOT_FOUND")
	other, _ := createWebhook(t, tid, rv.URL, "asset.updated")
	expect(t, call(t, "GET", strings.Replace(progress, hook, other, 1), owner, nil), http.StatusNotFound, "NOT_FOUND")
	sys := call(t, "GET", "/api/integrations/activity?source=system&webhookId="+hook, owner, nil)
	if n := strings.Count(string(sys.Body), `"event":"webhook.recovery_started"`); n != 2 {
		t.Fatalf("%d recovery rows: %s", n, sys.Body)
	}
}

// A recovery's steps, taken here one page (one delivery per shard) at a
// time with the dispatcher's own IAM, walk every shard in event-time order
// and stop at the cap: the three oldest failed deliveries are queued and
// delivered, resumeFrom is the fourth's event time, and a recovery from
// there queues the others.
func TestRecoveryStepsAndCap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	var up atomic.Bool
	rv := newReceiver(t, func(int) int {
		if up.Load() {
			return 200
		}
		return 500
	})
	hook, _ := createWebhook(t, tid, rv.URL, "asset.created")
	key, _ := newKey(t, tid, "asset:create")
	start := time.Now()
	shards := stack.Config.Dispatcher.DeliveryShards
	// Five or more failed deliveries, two of them in one shard, so a page
	// of one per shard cannot take them all in one step.
	var recs []delivery.Record
	for shared := false; len(recs) < 5 || !shared; {
		if len(recs) == 15 {
			t.Fatalf("15 deliveries and no two in one of %d shards", shards)
		}
		createAsset(t, key, nil)
		settled(t, tid)
		recs = allDeliveries(t, tid)
		seen := map[int]bool{}
		for _, r := range recs {
			shared = shared || seen[delivery.Shard(r.DeliveryID, shards)]
			seen[delivery.Shard(r.DeliveryID, shards)] = true
		}
	}
	slices.SortFunc(recs, func(a, b delivery.Record) int { return strings.Compare(a.SK, b.SK) })
	n := len(recs)

	var steps []delivery.Recovery
	collect := func(_ context.Context, rec delivery.Recovery) error { steps = append(steps, rec); return nil }
	admin := &delivery.Recoveries{
		Store: &delivery.Store{DB: dynamodb.NewFromConfig(stack.Principals["AdminApiFunction"].AWS), Table: stack.IntegrationsTable, Shards: shards},
		Next:  collect,
	}
	d, err := delivery.Build(ctx, stack.Config.Dispatcher, stack.Principals["DispatcherFunction"].AWS)
	if err != nil {
		t.Fatal(err)
	}
	runner := d.Recoveries
	runner.Page, runner.Max, runner.Next = 1, 3, collect
	recoverFrom := func(since string) (delivery.Recovery, int) {
		t.Helper()
		now := isotime.Format(time.Now())
		rec := delivery.Recovery{ID: delivery.NewRecoveryID(), TenantID: tid, WebhookID: hook, Since: since, Until: now,
			State: delivery.RecoveryRunning, CreatedAt: now, CreatedBy: "test", UpdatedAt: now}
		if err := admin.Start(ctx, rec, "ERP sink"); err != nil {
			t.Fatal(err)
		}
		taken := 0
		for ; len(steps) > 0; taken++ {
			if taken == 100 {
				t.Fatal("100 steps and not done")
			}
			step := steps[0]
			steps = steps[1:]
			if err := runner.Step(ctx, step.TenantID, step.ID); err != nil {
				t.Fatal(err)
			}
		}
		got, err := runner.Get(ctx, tid, hook, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != delivery.RecoveryDone {
			t.Fatalf("after %d steps: %+v", taken, got)
		}
		return got, taken
	}

	// Uncapped, while the receiver is still down: a shard holding two
	// failed deliveries ends the first step's page at its first, so the
	// walk takes more than one step (a capped walk may stop in one).
	all, taken := func() (delivery.Recovery, int) {
		runner.Max = 0
		defer func() { runner.Max = 3 }()
		return recoverFrom(isotime.Format(start.Add(-time.Minute)))
	}()
	if all.Queued != n || all.Truncated || taken < 2 {
		t.Fatalf("uncapped recovery after %d steps: %+v", taken, all)
	}
	settled(t, tid) // each failed again, a round of 3 attempts
	up.Store(true)

	first, _ := recoverFrom(isotime.Format(start.Add(-time.Minute)))
	fourth, _, _ := strings.Cut(recs[3].SK, "#")
	if first.Queued != 3 || !first.Truncated || first.ResumeFrom == nil || *first.ResumeFrom != fourth {
		t.Fatalf("capped recovery: %+v (want resumeFrom %s)", first, fourth)
	}
	settled(t, tid)
	var ids []string
	for _, req := range rv.requests()[6*n:] {
		ids = append(ids, req.Header.Get("webhook-id"))
	}
	slices.Sort(ids)
	want := []string{recs[0].DeliveryID, recs[1].DeliveryID, recs[2].DeliveryID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("recovered %v, want the three oldest %v", ids, want)
	}

	// The rest uncapped: the loop above may have made up to 15
	// deliveries, more than one more capped walk of 3 would take.
	runner.Max = 0
	rest, _ := recoverFrom(*first.ResumeFrom)
	if rest.Queued != n-3 || rest.Truncated {
		t.Fatalf("the rest: %+v", rest)
	}
	settled(t, tid)
	if got := len(rv.requests()); got != 7*n {
		t.Fatalf("%d requests, want %d failed and %d recovered", got, 6*n, n)
	}
}
