package streamrouter

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/smithy-go"

	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/webhook"
)

// hooks is an in-memory Subscriptions: webhooks by tenant, and tenants whose list fails.
type hooks struct {
	byTenant   map[string][]webhook.Webhook
	failing    map[string]bool
	unreadable map[string][]webhook.Unreadable
}

func (h hooks) ListReadable(_ context.Context, tenantID string) ([]webhook.Webhook, []webhook.Unreadable, error) {
	if h.failing[tenantID] {
		return nil, nil, errors.New("throttled")
	}
	return h.byTenant[tenantID], h.unreadable[tenantID], nil
}

// queue is an in-memory Deliveries: it records what was prepared and sent.
type queue struct {
	mu       sync.Mutex
	prepared map[string]bool // delivery ids already recorded (a retried batch finds them)
	failOn   string          // webhook id whose Prepare fails
	tooBig   string          // webhook id whose delivery record DynamoDB refuses as too large
	sendErr  error
	sent     []string // "webhookId event"
}

func (q *queue) Prepare(_ context.Context, w webhook.Webhook, e delivery.Event) (delivery.Key, bool, error) {
	if w.ID == q.failOn {
		return delivery.Key{}, false, errors.New("write failed")
	}
	if w.ID == q.tooBig {
		return delivery.Key{}, false, &smithy.GenericAPIError{Code: "ValidationException", Message: "Item size has exceeded the maximum allowed size"}
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

// A webhook whose item does not decode, and a delivery DynamoDB refuses as
// too large, fail only themselves: the batch reports no failure (a retry
// would fail the same way and hold the shard for every tenant), the
// tenant's other webhooks get their deliveries, and both are counted.
func TestAnItemsOwnFaultHoldsUpNothing(t *testing.T) {
	h := hooks{
		byTenant: map[string][]webhook.Webhook{
			"t1": {hook("t1", "wh_ok", webhook.Active, "asset.created"), hook("t1", "wh_big", webhook.Active, "asset.created")},
			"t2": {hook("t2", "wh_t2", webhook.Active, "asset.created")},
		},
		unreadable: map[string][]webhook.Unreadable{"t1": {{ID: "wh_bad", Err: &attributevalue.UnmarshalTypeError{Value: "number", Type: reflect.TypeOf("")}}}},
	}
	q := &queue{prepared: map[string]bool{}, tooBig: "wh_big"}
	var logs strings.Builder
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, nil)))
	defer slog.SetDefault(prev)
	if failed := route(t, h, q, insert("1", "t1", "a1"), insert("2", "t2", "a2")); failed != "" {
		t.Fatalf("reported %s as failed", failed)
	}
	slices.Sort(q.sent)
	if want := []string{"wh_ok asset.created", "wh_t2 asset.created"}; !slices.Equal(q.sent, want) {
		t.Fatalf("sent %v, want %v", q.sent, want)
	}
	for _, m := range []string{`"UnreadableWebhooks":1`, `"webhookId":"wh_bad"`, `"UnroutableEvents":1`, `"webhookId":"wh_big"`} {
		if !strings.Contains(logs.String(), m) {
			t.Fatalf("no %s in the log:\n%s", m, logs.String())
		}
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

// arming is an in-memory Arm: it records the images it armed per item
// (their version), and fails the one listed in failAt. Each item's first
// record waits until every item's first record has started (or the
// context ends), so a router arming items one at a time fails the batch.
type arming struct {
	mu         sync.Mutex
	order      map[string][]string // item PK -> versions armed, in order
	failAt     string              // "PK version" whose arming fails
	items      int                 // items whose first record is still to start
	allStarted chan struct{}
	seen       map[string]bool
}

func (a *arming) Change(ctx context.Context, _, cur *asset.Item, _ time.Time, _ func(string) ([]webhook.Webhook, error)) error {
	pk, v := cur.Dates.PK, strconv.FormatInt(cur.Asset.Version, 10)
	a.mu.Lock()
	if !a.seen[pk] {
		a.seen[pk] = true
		if a.items--; a.items == 0 {
			close(a.allStarted)
		}
	}
	a.mu.Unlock()
	select {
	case <-a.allStarted:
	case <-ctx.Done():
		return ctx.Err()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if pk+" "+v == a.failAt {
		return errors.New("index write failed")
	}
	a.order[pk] = append(a.order[pk], v)
	return nil
}

// Records of different items are armed at once and those of one item in
// order; an item whose arming fails arms none of its later records, and
// the batch reports the earliest failed record (Lambda retries from it).
func TestAlertsArmItemsAtOnceAndEachInOrder(t *testing.T) {
	update := func(seq, assetID, version string) events.DynamoDBEventRecord {
		r := insert(seq, "t1", assetID)
		r.EventName = "MODIFY"
		r.Change.NewImage["version"] = events.NewNumberAttribute(version)
		return r
	}
	a := &arming{order: map[string][]string{}, seen: map[string]bool{}, failAt: keyschema.AssetPK("t1", "b") + " 2", items: 3, allStarted: make(chan struct{})}
	batch := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		update("1", "a", "1"), update("2", "b", "1"), update("3", "a", "2"), update("4", "b", "2"),
		update("5", "c", "1"), update("6", "b", "3"), update("7", "a", "3"),
	}}
	r := &Router{Webhooks: hooks{}, Enqueuer: &queue{prepared: map[string]bool{}}, Alerts: a, Now: time.Now, Concurrency: 3}
	// The deadline only bounds a router that never arms the items at once.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := r.Handle(ctx, batch)
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "4" {
		t.Fatalf("want record 4 reported: %v %+v", err, resp)
	}
	want := map[string][]string{keyschema.AssetPK("t1", "a"): {"1", "2", "3"}, keyschema.AssetPK("t1", "b"): {"1"}, keyschema.AssetPK("t1", "c"): {"1"}}
	for pk, versions := range want {
		if !slices.Equal(a.order[pk], versions) {
			t.Errorf("%s armed %v, want %v", pk, a.order[pk], versions)
		}
	}
}

// Only an item too large is an event's own fault; any other refusal (a bad
// deploy's expression) would meet every event, so it fails the record.
func TestOnlyAnOversizedItemIsSkipped(t *testing.T) {
	big := &smithy.GenericAPIError{Code: "ValidationException", Message: "Item size has exceeded the maximum allowed size"}
	other := &smithy.GenericAPIError{Code: "ValidationException", Message: "Invalid UpdateExpression: Syntax error"}
	if !tooLarge(big) || tooLarge(other) || tooLarge(errors.New("throttled")) {
		t.Fatalf("tooLarge: %v %v", tooLarge(big), tooLarge(other))
	}
}

// A batch whose invocation has ended reports an error, never success: the
// tenants and deliveries it did not reach must be routed by the retry.
func TestAnEndedInvocationRoutesNothingAsDone(t *testing.T) {
	h := hooks{byTenant: map[string][]webhook.Webhook{"t1": {hook("t1", "wh_1", webhook.Active, "asset.created")}}}
	q := &queue{prepared: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := &Router{Webhooks: h, Enqueuer: q, Concurrency: 2}
	if resp, err := r.Handle(ctx, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{insert("1", "t1", "a")}}); err == nil {
		t.Fatalf("an ended invocation answered %+v, nil: its records would count as routed", resp)
	}
}
