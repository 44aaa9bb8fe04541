package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/tenant"
	"github.com/uniasset/integrations/shared/webhook"
)

// The webhook cap holds when creates race: listing, then writing, once let
// 20 concurrent creates at 40 webhooks end at 60.
func TestWebhookCapHoldsUnderConcurrentCreates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		before    int
		uncounted bool // webhooks from before the count existed
	}{
		{"counted", 40, false},
		{"count made on first use", 45, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tid := newTenant(t, tenant.Enterprise)
			tok := token(t, tid, "Owner")
			for i := range tc.before {
				createWebhook(t, tid, fmt.Sprintf("http://127.0.0.1:9/before-%d", i), "warranty.expiring")
			}
			if tc.uncounted {
				_, err := stack.DB.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(stack.IntegrationsTable), Key: keyschema.WebhookCount(tid).Attrs()})
				if err != nil {
					t.Fatal(err)
				}
			}

			const racers = 20
			statuses := make([]int, racers)
			var wg sync.WaitGroup
			for i := range racers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i] = postWebhook(tok, fmt.Sprintf("http://127.0.0.1:9/racer-%d", i))
				}()
			}
			wg.Wait()
			created, refused := 0, 0
			for _, s := range statuses {
				switch s {
				case http.StatusCreated:
					created++
				case http.StatusConflict:
					refused++
				default:
					t.Errorf("a racing create answered %d", s)
				}
			}
			if want := webhook.MaxPerTenant - tc.before; created != want || refused != racers-want {
				t.Errorf("%d created and %d refused, want %d and %d", created, refused, want, racers-want)
			}
			hooks := listWebhooks(t, tok)
			if len(hooks) != webhook.MaxPerTenant {
				t.Fatalf("the tenant has %d webhooks, cap %d", len(hooks), webhook.MaxPerTenant)
			}

			// A delete makes room for exactly one more.
			expect(t, call(t, "DELETE", "/api/integrations/webhooks/"+hooks[0], tok, nil), http.StatusNoContent, "")
			if s := postWebhook(tok, "http://127.0.0.1:9/after-delete"); s != http.StatusCreated {
				t.Fatalf("create after a delete: %d", s)
			}
			r := call(t, "POST", "/api/integrations/webhooks", tok, map[string]any{"name": "one too many", "url": "http://127.0.0.1:9/x", "events": []string{"warranty.expiring"}})
			expect(t, r, http.StatusConflict, "CONFLICT")
			// Deleting what is gone changes no count.
			expect(t, call(t, "DELETE", "/api/integrations/webhooks/"+hooks[0], tok, nil), http.StatusNotFound, "")
			if s := postWebhook(tok, "http://127.0.0.1:9/x"); s != http.StatusConflict {
				t.Fatalf("a second delete of one webhook made room: %d", s)
			}
		})
	}
}

// postWebhook creates a webhook and returns the status (safe off the test goroutine).
func postWebhook(tok, url string) int {
	body, _ := json.Marshal(map[string]any{"name": "racer", "url": url, "events": []string{"warranty.expiring"}})
	req, _ := http.NewRequest("POST", server.URL+"/api/integrations/webhooks", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func listWebhooks(t *testing.T, tok string) []string {
	t.Helper()
	r := call(t, "GET", "/api/integrations/webhooks", tok, nil)
	expect(t, r, http.StatusOK, "")
	var page struct {
		Webhooks []struct {
			ID string `json:"id"`
		} `json:"webhooks"`
	}
	if err := json.Unmarshal(r.Body, &page); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(page.Webhooks))
	for i, h := range page.Webhooks {
		ids[i] = h.ID
	}
	return ids
}

// An edit read before a delivery's outcome was recorded must not put the old
// health back: the dispatcher writes health without touching updatedAt, so
// the edit's revision check cannot see it, and the edit sets only its fields.
func TestWebhookEditKeepsHealthWrittenMeanwhile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	whID, _ := createWebhook(t, tid, "http://127.0.0.1:9/edit", "asset.created")
	store := adminAPI(t).Webhooks
	read, err := store.Get(ctx, tid, whID) // what the editor sees: a new webhook
	if err != nil {
		t.Fatal(err)
	}
	if err := store.RecordOutcome(ctx, read, webhook.OutcomeFailed, time.Now(), "asset.created attempt 1 failed: HTTP 500"); err != nil {
		t.Fatal(err)
	}
	read.Name, read.UpdatedAt = "renamed", isotime.Format(time.Now().Add(time.Millisecond))
	if err := store.Replace(ctx, read); err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(ctx, tid, whID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "renamed" || got.LastDeliveryStatus != webhook.OutcomeFailed || got.Health() != "failing" {
		t.Fatalf("after the edit: name %q, last delivery %q, health %q; want renamed, failed, failing", got.Name, got.LastDeliveryStatus, got.Health())
	}
	if got.Secret == "" {
		t.Fatal("the edit lost the signing secret")
	}
}

// An edit is written only over the revision it read, whatever the clocks say:
// a pause that lands between the read and the write, even with an equal or
// earlier updatedAt (another instance's clock), makes the edit a conflict,
// and so does another edit.
func TestWebhookEditsConflictByRevisionNotClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	whID, _ := createWebhook(t, tid, "http://127.0.0.1:9/rev", "asset.created")
	store := adminAPI(t).Webhooks
	a, err := store.Get(ctx, tid, whID)
	if err != nil {
		t.Fatal(err)
	}
	b := a
	a.Name = "edit A"
	if err := store.Replace(ctx, a); err != nil {
		t.Fatal(err)
	}
	// B read the same revision as A and writes the same updatedAt: still a conflict.
	b.Name = "edit B"
	if err := store.Replace(ctx, b); codeOf(err) != "CONFLICT" {
		t.Fatalf("a second edit over the same revision: %v, want CONFLICT", err)
	}
	c, err := store.Get(ctx, tid, whID)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.SetStatus(ctx, tid, whID, webhook.Paused); err != nil {
		t.Fatal(err)
	}
	// Put updatedAt back to what C read, as a slow clock could.
	if _, err := stack.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(stack.IntegrationsTable), Key: keyschema.Webhook(tid, whID).Attrs(),
		UpdateExpression:          aws.String("SET updatedAt = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": &types.AttributeValueMemberS{Value: c.UpdatedAt}},
	}); err != nil {
		t.Fatal(err)
	}
	c.Name = "edit C"
	if err := store.Replace(ctx, c); codeOf(err) != "CONFLICT" {
		t.Fatalf("an edit across a pause with an equal updatedAt: %v, want CONFLICT", err)
	}
	got, err := store.Get(ctx, tid, whID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "edit A" || got.Status != webhook.Paused || got.Revision != a.Revision+2 {
		t.Fatalf("stored %q %s revision %d; want edit A, paused, revision %d", got.Name, got.Status, got.Revision, a.Revision+2)
	}
}

// The dispatcher skips rewriting an unchanged badge; it must judge "unchanged"
// on the webhook as it is when the attempt ends, not as it was read when the
// attempt began: here another attempt turns the badge healthy while this one
// is in flight, and this one, which started later, fails.
func TestBadgeFollowsTheLatestAttemptNotAStaleRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	store := adminAPI(t).Webhooks
	var whID string
	failedAt := time.Now().Add(-10 * time.Second) // recent: within HealthRefresh, so a stale copy says "no change"
	rv := newReceiver(t, func(int) int {
		// While the attempt is in flight: another attempt, begun earlier, records success.
		w, err := store.Get(ctx, tid, whID)
		if err != nil {
			t.Error(err)
		} else if err := store.RecordOutcome(ctx, w, webhook.OutcomeDelivered, failedAt.Add(time.Millisecond), "asset.created delivered on attempt 1"); err != nil {
			t.Error(err)
		}
		// A dispatcher re-reads a copy of the health older than a second
		// before skipping a write (so reads of the item stay bounded by
		// instances, not traffic): this attempt outlasts that.
		time.Sleep(1500 * time.Millisecond)
		return http.StatusGone // this attempt fails, with no retry
	})
	whID, _ = createWebhook(t, tid, rv.URL, "asset.created")
	w, err := store.Get(ctx, tid, whID)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.RecordOutcome(ctx, w, webhook.OutcomeFailed, failedAt, "asset.created attempt 1 failed: HTTP 500"); err != nil {
		t.Fatal(err)
	}
	expect(t, call(t, "POST", "/api/integrations/webhooks/"+whID+"/test", token(t, tid, "Owner"), nil), 202, "")
	waitFor(t, 15*time.Second, "the test delivery to finish", func() bool {
		for _, d := range allDeliveries(t, tid) {
			if d.Status == "failed" {
				return true
			}
		}
		return false
	})
	waitFor(t, 5*time.Second, "the badge to show the latest attempt", func() bool {
		got, err := store.Get(ctx, tid, whID)
		return err == nil && got.Health() == "failing"
	})
}

// Pausing a webhook discards its pending deliveries, but not one whose attempt
// is in flight: that attempt's outcome is recorded as it happened.
func TestDiscardLeavesAnAttemptInFlightToFinish(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	store := &delivery.Store{DB: stack.DB, Table: stack.IntegrationsTable, Shards: stack.Config.Dispatcher.DeliveryShards}
	now := time.Now()
	rec := delivery.Record{
		TenantID: tid, DeliveryID: "msg_inflight", WebhookID: "wh_inflight", WebhookName: "x", Event: "asset.created",
		Payload: "{}", Status: delivery.Pending, CreatedAt: isotime.Format(now), UpdatedAt: isotime.Format(now), History: []delivery.Attempt{},
		SK: isotime.Format(now) + "#msg_inflight", ByResourcePK: keyschema.WebhookDeliveriesPK(tid, "wh_inflight", 0),
	}
	if created, _, err := store.CreateIfNew(ctx, rec); err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	k := rec.Key()
	if won, err := store.Claim(ctx, k, 1, now, time.Minute); err != nil || !won {
		t.Fatalf("claim: %v %v", won, err)
	}
	if inFlight, err := store.Discard(ctx, k, "webhook paused; delivery discarded", now.Add(time.Second)); err != nil || !inFlight {
		t.Fatalf("discarding under an attempt in flight: inFlight %v, %v", inFlight, err)
	}
	got, _, err := store.Get(ctx, k)
	if err != nil || got.Status != delivery.Pending || got.InFlightUntil == "" {
		t.Fatalf("an attempt in flight was discarded under it: %+v %v", got, err)
	}
	if err := store.Finish(ctx, k, delivery.Outcome{Status: delivery.Delivered, Attempt: delivery.Attempt{N: 1, At: isotime.Format(now), StatusCode: 200}}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ = store.Get(ctx, k); got.Status != delivery.Delivered || got.LastError != "" {
		t.Fatalf("after the attempt finished: %s %q", got.Status, got.LastError)
	}
	// Once nothing is in flight, a pending delivery is discarded.
	rec.DeliveryID, rec.SK = "msg_idle", isotime.Format(now)+"#msg_idle"
	if _, _, err := store.CreateIfNew(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if inFlight, err := store.Discard(ctx, rec.Key(), "webhook paused; delivery discarded", now); err != nil || inFlight {
		t.Fatalf("discarding an idle delivery: inFlight %v, %v", inFlight, err)
	}
	if got, _, _ = store.Get(ctx, rec.Key()); got.Status != delivery.Failed {
		t.Fatalf("an idle pending delivery was not discarded: %s", got.Status)
	}
}
