package streamrouter

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/webhook"
)

// hooks is an in-memory Subscriptions: webhooks by tenant, and tenants whose list fails.
type hooks struct {
	byTenant map[string][]webhook.Webhook
	failing  map[string]bool
}

func (h hooks) List(_ context.Context, tenantID string) ([]webhook.Webhook, error) {
	if h.failing[tenantID] {
		return nil, errors.New("throttled")
	}
	return h.byTenant[tenantID], nil
}

// queue is an in-memory Deliveries: it records what was prepared and sent.
type queue struct {
	mu       sync.Mutex
	prepared map[string]bool // delivery ids already recorded (a retried batch finds them)
	failOn   string          // webhook id whose Prepare fails
	sendErr  error
	sent     []string // "webhookId event"
}

func (q *queue) Prepare(_ context.Context, w webhook.Webhook, e delivery.Event) (delivery.Key, bool, error) {
	if w.ID == q.failOn {
		return delivery.Key{}, false, errors.New("write failed")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	id := delivery.ID(e.SourceID, e.Name, w.ID)
	fresh := !q.prepared[id]
	q.prepared[id] = true
	return delivery.Key{TenantID: w.TenantID, DeliveryID: id, WebhookID: w.ID, SK: e.Name}, fresh, nil
}

func (q *queue) Send(_ context.Context, keys []delivery.Key) error {
	if q.sendErr != nil {
		return q.sendErr
	}
	for _, k := range keys {
		q.sent = append(q.sent, k.WebhookID+" "+k.SK)
	}
	return nil
}

func insert(seq, tenantID, assetID string) events.DynamoDBEventRecord {
	s := events.NewStringAttribute
	img := map[string]events.DynamoDBAttributeValue{
		"PK": s(keyschema.AssetPK(tenantID, assetID)), "SK": s(keyschema.AssetSK), "assetId": s(assetID), "assetName": s("Forklift"),
		"categoryName": s("Vehicles"), "statusName": s("ACTIVE"), "version": events.NewNumberAttribute("1"),
		"createdAt": s("2026-01-01T00:00:00.000Z"), "updatedAt": s("2026-01-01T00:00:00.000Z"),
	}
	return events.DynamoDBEventRecord{EventID: "ev-" + seq, EventName: "INSERT", Change: events.DynamoDBStreamRecord{
		SequenceNumber: seq, Keys: map[string]events.DynamoDBAttributeValue{"PK": img["PK"], "SK": img["SK"]}, NewImage: img,
	}}
}

func hook(tenantID, id, status string, events ...string) webhook.Webhook {
	return webhook.Webhook{TenantID: tenantID, ID: id, Status: status, Events: events}
}

func route(t *testing.T, h hooks, q *queue, recs ...events.DynamoDBEventRecord) string {
	t.Helper()
	r := &Router{Webhooks: h, Enqueuer: q, Concurrency: 2}
	resp, err := r.Handle(context.Background(), events.DynamoDBEvent{Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	switch len(resp.BatchItemFailures) {
	case 0:
		return ""
	case 1:
		return resp.BatchItemFailures[0].ItemIdentifier
	}
	t.Fatalf("more than one failure reported: %+v", resp)
	return ""
}

func TestOneDeliveryPerSubscribedActiveWebhook(t *testing.T) {
	h := hooks{byTenant: map[string][]webhook.Webhook{
		"t1": {hook("t1", "wh_all", webhook.Active, "asset.created", "asset.updated"), hook("t1", "wh_paused", webhook.Paused, "asset.created"),
			hook("t1", "wh_other", webhook.Active, "maintenance.created")},
		"t2": {hook("t2", "wh_t2", webhook.Active, "asset.created")},
	}}
	q := &queue{prepared: map[string]bool{}}
	if failed := route(t, h, q, insert("1", "t1", "a1"), insert("2", "t2", "a2"), insert("3", "t3", "a3")); failed != "" {
		t.Fatalf("reported %s as failed", failed)
	}
	slices.Sort(q.sent)
	if want := []string{"wh_all asset.created", "wh_t2 asset.created"}; !slices.Equal(q.sent, want) {
		t.Fatalf("sent %v, want %v", q.sent, want)
	}
	// The same batch again (Lambda retries it): every delivery exists, nothing is queued twice.
	q.sent = nil
	route(t, h, q, insert("1", "t1", "a1"), insert("2", "t2", "a2"))
	if len(q.sent) != 0 {
		t.Fatalf("a retried batch queued %v again", q.sent)
	}
}

// The first record that cannot be routed is reported; records before it are
// queued, none after it (Lambda retries from it, in order).
func TestFailureReportsTheFirstUnroutedRecord(t *testing.T) {
	all := map[string][]webhook.Webhook{
		"t1": {hook("t1", "wh_1", webhook.Active, "asset.created")},
		"t2": {hook("t2", "wh_2", webhook.Active, "asset.created")},
		"t3": {hook("t3", "wh_3", webhook.Active, "asset.created")},
	}
	t.Run("listing a tenant's webhooks fails", func(t *testing.T) {
		q := &queue{prepared: map[string]bool{}}
		failed := route(t, hooks{byTenant: all, failing: map[string]bool{"t2": true}}, q, insert("1", "t1", "a"), insert("2", "t2", "b"), insert("3", "t3", "c"))
		if failed != "2" || !slices.Equal(q.sent, []string{"wh_1 asset.created"}) {
			t.Fatalf("failed at %q, sent %v", failed, q.sent)
		}
	})
	t.Run("recording a delivery fails", func(t *testing.T) {
		q := &queue{prepared: map[string]bool{}, failOn: "wh_3"}
		failed := route(t, hooks{byTenant: all}, q, insert("1", "t1", "a"), insert("2", "t2", "b"), insert("3", "t3", "c"))
		if failed != "3" || len(q.sent) != 2 {
			t.Fatalf("failed at %q, sent %v", failed, q.sent)
		}
	})
	t.Run("queueing fails", func(t *testing.T) {
		q := &queue{prepared: map[string]bool{}, sendErr: errors.New("sqs down")}
		if failed := route(t, hooks{byTenant: all}, q, insert("1", "t1", "a"), insert("2", "t2", "b")); failed != "1" {
			t.Fatalf("which messages went out is unknown: the batch must be retried from its start, got %q", failed)
		}
	})
	t.Run("an undecodable record is skipped, not retried", func(t *testing.T) {
		q := &queue{prepared: map[string]bool{}}
		bad := insert("2", "t2", "b")
		bad.Change.NewImage["version"] = events.NewStringAttribute("not a number")
		if failed := route(t, hooks{byTenant: all}, q, insert("1", "t1", "a"), bad, insert("3", "t3", "c")); failed != "" || len(q.sent) != 2 {
			t.Fatalf("failed at %q, sent %v", failed, q.sent)
		}
	})
}
