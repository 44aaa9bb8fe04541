package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/uniasset/integrations/shared/adminapi"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/devstack"
	"github.com/uniasset/integrations/shared/entra"
	"github.com/uniasset/integrations/shared/httpapi"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/sealing"
	"github.com/uniasset/integrations/shared/streamrouter"
	"github.com/uniasset/integrations/shared/tenant"
)

// finalDelivery waits until the tenant's only delivery is no longer pending and returns it.
func finalDelivery(t *testing.T, tenantID string, within time.Duration) delivery.Record {
	t.Helper()
	var rec delivery.Record
	waitFor(t, within, "the delivery to finish", func() bool {
		all := allDeliveries(t, tenantID)
		if len(all) != 1 {
			return false
		}
		rec = all[0]
		// Finished, and read whole: moto applies an update's clauses one by
		// one, so a read can land between them.
		return rec.Status != delivery.Pending && rec.InFlightUntil == "" && len(rec.History) == rec.Attempts
	})
	return rec
}

func TestDeliveryRetriesThenSucceeds(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	rv := newReceiver(t, func(n int) int {
		if n == 1 {
			return 500
		}
		return 200
	})
	whID, _ := createWebhook(t, tid, rv.URL, "asset.created")
	key, _ := newKey(t, tid, allPermissions...)
	createAsset(t, key, nil)

	rec := finalDelivery(t, tid, 20*time.Second)
	got := rv.requests()
	if rec.Status != delivery.Delivered || rec.Attempts != 2 || len(got) != 2 || len(rec.History) != 2 {
		t.Fatalf("want delivered on attempt 2 after one 500: %+v, %d requests", rec, len(got))
	}
	if rec.History[0].StatusCode != 500 || rec.History[0].Error != "HTTP 500" || rec.History[1].StatusCode != 200 {
		t.Fatalf("attempt history: %+v", rec.History)
	}
	// Same message id and body on the retry: receivers deduplicate on webhook-id.
	if got[0].Header.Get("webhook-id") != got[1].Header.Get("webhook-id") || string(got[0].Body) != string(got[1].Body) {
		t.Fatal("the retry is not the same message")
	}
	waitHealth(t, tid, whID, "healthy")
}

func TestDeliveryFailures(t *testing.T) {
	t.Parallel()
	// Port 1 (tcpmux) is below the ephemeral range, so no test server can
	// take it between now and the attempts, as a freed port could be.
	closed := func() string { return "http://127.0.0.1:1/hook" }
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // answers only after the dispatcher gave up on it
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); slow.Close() })
	redirected := 0
	var mu sync.Mutex
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			mu.Lock()
			redirected++
			mu.Unlock()
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	t.Cleanup(redirect.Close)
	gone := newReceiver(t, func(int) int { return 410 })

	cases := []struct {
		name, url   string
		attempts    int
		errContains string
	}{
		{"timeout", slow.URL, 3, "timeout"},
		{"connection refused", closed(), 3, "connection refused"},
		{"302 is a failure", redirect.URL, 3, "HTTP 302"},
		{"410 stops", gone.URL, 1, "410 Gone"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tid := newTenant(t, tenant.Enterprise)
			whID, _ := createWebhook(t, tid, c.url, "asset.created")
			key, _ := newKey(t, tid, allPermissions...)
			createAsset(t, key, nil)
			rec := finalDelivery(t, tid, 90*time.Second)
			if rec.Status != delivery.Failed || rec.Attempts != c.attempts || !strings.Contains(rec.History[len(rec.History)-1].Error, c.errContains) {
				t.Fatalf("want failed after %d attempts with %q: %+v", c.attempts, c.errContains, rec)
			}
			waitHealth(t, tid, whID, "failing")
		})
	}
	t.Cleanup(func() {
		mu.Lock()
		followed := redirected
		mu.Unlock()
		if followed != 0 {
			t.Errorf("a redirect was followed %d times", followed)
		}
		if n := len(gone.requests()); n != 1 {
			t.Errorf("410 receiver got %d requests, want 1", n)
		}
	})
}

// The same stream batch handled twice (Lambda retries whole batches) delivers once.
func TestReplayedStreamBatchDeliversOnce(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	rv := newReceiver(t, nil)
	createWebhook(t, tid, rv.URL, "asset.created")
	router, err := streamrouter.Build(context.Background(), stack.Config.StreamRouter, stack.Principals["StreamRouterFunction"].AWS)
	if err != nil {
		t.Fatal(err)
	}
	rec := events.DynamoDBEventRecord{
		EventID: "replay-" + tid, EventName: "INSERT",
		Change: events.DynamoDBStreamRecord{
			SequenceNumber: "1",
			Keys: map[string]events.DynamoDBAttributeValue{
				"PK": events.NewStringAttribute(keyschema.AssetPK(tid, "asset_replayed")), "SK": events.NewStringAttribute(keyschema.AssetSK),
			},
			NewImage: map[string]events.DynamoDBAttributeValue{
				"PK": events.NewStringAttribute(keyschema.AssetPK(tid, "asset_replayed")), "SK": events.NewStringAttribute(keyschema.AssetSK),
				"assetId": events.NewStringAttribute("asset_replayed"), "assetName": events.NewStringAttribute("Replayed"),
				"categoryName": events.NewStringAttribute("c"), "statusName": events.NewStringAttribute("s"),
				"tenantId": events.NewStringAttribute(tid), "version": events.NewNumberAttribute("1"),
				"createdAt": events.NewStringAttribute("2026-11-22T08:00:00.000Z"), "updatedAt": events.NewStringAttribute("2026-11-22T08:00:00.000Z"),
			},
		},
	}
	batch := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{rec}}
	for range 2 {
		resp, err := router.Handle(context.Background(), batch)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("router: %v %+v", err, resp)
		}
	}
	// Once the record is final no copy of its message can POST (a send
	// needs the attempt's claim), so the count below cannot grow.
	done := finalDelivery(t, tid, 30*time.Second)
	if n := len(rv.requests()); n != 1 || done.Attempts != 1 {
		t.Fatalf("receiver got %d requests for one event; record %+v", n, done)
	}
	// And once more after it was delivered: nothing new is queued.
	if _, err := router.Handle(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	settled(t, tid)
	if again := finalDelivery(t, tid, time.Second); len(rv.requests()) != 1 || again.Attempts != 1 || again.UpdatedAt != done.UpdatedAt {
		t.Fatalf("a replay after delivery sent again: %d requests, record %+v", len(rv.requests()), again)
	}
}

func TestEventKindsAndSubscriptions(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	rv := newReceiver(t, nil)
	createWebhook(t, tid, rv.URL, "asset.assigned", "geo_position.updated", "maintenance.created", "asset.updated")
	key, _ := newKey(t, tid, allPermissions...)
	id := createAsset(t, key, nil)["assetId"].(string) // asset.created: not subscribed
	expect(t, call(t, "POST", "/api/integrations/assets/assignment", key, map[string]any{"assetId": id, "userId": "u1"}), 200, "")
	expect(t, call(t, "POST", "/api/integrations/assets/geo-position", key, map[string]any{"assetId": id, "latitude": 1.5, "longitude": 2.5}), 200, "")
	expect(t, call(t, "POST", "/api/integrations/assets/maintenance", key, map[string]any{"assetId": id, "title": "Check"}), 201, "")
	expect(t, call(t, "POST", "/api/integrations/assets/update", key, map[string]any{"assetId": id, "statusName": "BROKEN"}), 200, "")
	waitFor(t, 20*time.Second, "four deliveries", func() bool { return len(rv.requests()) >= 4 })
	settled(t, tid)
	var names []string
	for _, r := range rv.requests() {
		names = append(names, r.Header.Get("X-UniAsset-Event"))
	}
	want := "asset.assigned,geo_position.updated,maintenance.created,asset.updated"
	if strings.Join(sorted(names), ",") != strings.Join(sorted(strings.Split(want, ",")), ",") {
		t.Fatalf("events = %v, want each of %s once (a position report is not an asset.updated)", names, want)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestPauseDeleteAndTestEvent(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	rv := newReceiver(t, nil)
	whID, secret := createWebhook(t, tid, rv.URL, "asset.created")
	key, _ := newKey(t, tid, allPermissions...)

	// Send Test Event: an asset.created test delivery, queued at once.
	r := call(t, "POST", "/api/integrations/webhooks/"+whID+"/test", owner, nil)
	expect(t, r, http.StatusAccepted, "")
	waitFor(t, 15*time.Second, "the test event", func() bool { return len(rv.requests()) == 1 })
	if got := rv.requests()[0]; got.Header.Get("X-UniAsset-Event") != "asset.created" || !strings.Contains(string(got.Body), `"test":true`) {
		t.Fatalf("test event: %s %v", got.Body, got.Header)
	}
	_ = secret

	// Paused: the badge says so and nothing is queued.
	p := call(t, "POST", "/api/integrations/webhooks/"+whID+"/pause", owner, nil)
	expect(t, p, 200, "")
	if p.json(t)["health"] != "paused" {
		t.Fatalf("paused webhook health: %s", p.Body)
	}
	expect(t, call(t, "POST", "/api/integrations/webhooks/"+whID+"/test", owner, nil), 409, "CONFLICT")
	createAsset(t, key, nil)
	settled(t, tid)
	if n := len(rv.requests()); n != 1 {
		t.Fatalf("a paused webhook got a delivery (%d requests)", n)
	}
	if n := len(allDeliveries(t, tid)); n != 1 {
		t.Fatalf("deliveries were queued for a paused webhook: %d records", n)
	}
	expect(t, call(t, "POST", "/api/integrations/webhooks/"+whID+"/resume", owner, nil), 200, "")
	createAsset(t, key, nil)
	waitFor(t, 15*time.Second, "delivery after resume", func() bool { return len(rv.requests()) == 2 })

	// Deleted while a delivery waits for its retry: the delivery is discarded.
	// The receiver asks for a pause longer than a dispatcher may reuse its
	// copy of the webhook (WEBHOOK_CACHE_TTL), so the retry meets the delete.
	pause := stack.Config.Dispatcher.WebhookCacheTTL + time.Second
	flaky := newReceiver(t, func(int) int { return 503 })
	flaky.mu.Lock()
	flaky.retryAfter = pause
	flaky.mu.Unlock()
	flakyID, _ := createWebhook(t, tid, flaky.URL, "asset.created")
	expect(t, call(t, "PATCH", "/api/integrations/webhooks/"+whID, owner, map[string]any{"events": []string{"asset.updated"}}), 200, "")
	createAsset(t, key, nil)
	waitFor(t, 15*time.Second, "the first failed attempt", func() bool { return len(flaky.requests()) == 1 })
	r = call(t, "DELETE", "/api/integrations/webhooks/"+flakyID, owner, nil)
	if r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	expect(t, call(t, "GET", "/api/integrations/webhooks/"+flakyID, owner, nil), 404, "NOT_FOUND")
	waitFor(t, 15*time.Second+pause, "the queued retry to be discarded", func() bool {
		for _, d := range allDeliveries(t, tid) {
			if d.WebhookID == flakyID {
				return d.Status == delivery.Failed && strings.Contains(d.LastError, "deleted")
			}
		}
		return false
	})
	if n := len(flaky.requests()); n != 1 {
		t.Fatalf("a deleted webhook kept receiving: %d requests", n)
	}
}

// A burst through the real routes: every write answers 201, the healthy
// receiver gets each delivery exactly once, the flaky one (500, then 200)
// ends with all of them, the failing one's all end failed after the whole
// schedule, and no dead-letter queue holds anything. make bench runs 1,000.
func TestBurstDeliversExactly(t *testing.T) {
	const n = 100
	// Room for a retry that falls back on the queue's 6-minute visibility
	// timeout (seen once in the tally: 3 of 300 deliveries; cause open). The
	// test asserts exactness, not lag; make bench reports the lag.
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	r, err := stack.Burst(ctx, server.URL, n, 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	attempts := len(stack.Config.Dispatcher.RetrySchedule) + 1
	// Every failed delivery made every attempt; each answered attempt is one
	// POST the receiver saw, and an attempt that ended in a transport error
	// (a connection reset under load) may or may not have reached it — but
	// no attempt reached it twice.
	if r.Refused != 0 || r.Healthy != n || r.HealthyPosts != n || r.Flaky != n || r.FlakyPosts != n ||
		r.FailingRecords != n || r.FailingAnswered+r.FailingUnanswered != attempts*n ||
		r.Failing < r.FailingAnswered || r.Failing > r.FailingAnswered+r.FailingUnanswered || r.Pending != 0 {
		t.Fatalf("want %d writes answered 201, %d deliveries accepted once by healthy and flaky, %d failed after %d attempts each: %+v", n, n, n, attempts, r)
	}
	for q, depth := range r.DLQ {
		if depth != 0 {
			t.Errorf("%s holds %d messages", q, depth)
		}
	}
}

// Admin input is validated with the production URL policy: https and public addresses only.
func TestWebhookAdminRejections(t *testing.T) {
	t.Parallel()
	strictCfg := stack.Config.AdminAPI
	strictCfg.WebhookAllowPrivate = false
	admin, err := adminapi.Build(context.Background(), strictCfg, stack.Principals["AdminApiFunction"].AWS)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := devstack.NewGateway(stack.Template.Routes(), map[string]httpapi.LambdaHandler{
		"AdminApiFunction": httpapi.Lambda(admin), "IntegrationApiFunction": httpapi.Lambda(http.NotFoundHandler()),
	}, stack.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	strict := httptest.NewServer(gw)
	t.Cleanup(strict.Close)
	post := func(bearer string, body any) response {
		t.Helper()
		return callAt(t, strict.URL, "POST", "/api/integrations/webhooks", bearer, body)
	}

	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	good := func(mod func(m map[string]any)) map[string]any {
		m := map[string]any{"name": "Sink", "url": "https://93.184.215.14/hooks", "events": []string{"asset.created"}}
		mod(m)
		return m
	}
	cases := map[string]map[string]any{
		"http":                  good(func(m map[string]any) { m["url"] = "http://93.184.215.14/hooks" }),
		"loopback":              good(func(m map[string]any) { m["url"] = "https://127.0.0.1/hooks" }),
		"localhost name":        good(func(m map[string]any) { m["url"] = "https://localhost/hooks" }),
		"private 10/8":          good(func(m map[string]any) { m["url"] = "https://10.0.0.8/hooks" }),
		"metadata service":      good(func(m map[string]any) { m["url"] = "https://169.254.169.254/latest/meta-data/" }),
		"ipv6 loopback":         good(func(m map[string]any) { m["url"] = "https://[::1]/hooks" }),
		"credentials in url":    good(func(m map[string]any) { m["url"] = "https://user:pass@93.184.215.14/" }),
		"no events":             good(func(m map[string]any) { m["events"] = []string{} }),
		"unknown event":         good(func(m map[string]any) { m["events"] = []string{"asset.exploded"} }),
		"duplicate event":       good(func(m map[string]any) { m["events"] = []string{"asset.created", "asset.created"} }),
		"header with CRLF":      good(func(m map[string]any) { m["headers"] = map[string]string{"X-Token": "a\r\nX-Evil: 1"} }),
		"header name with CRLF": good(func(m map[string]any) { m["headers"] = map[string]string{"X-A\r\nB": "v"} }),
		"reserved header":       good(func(m map[string]any) { m["headers"] = map[string]string{"X-UniAsset-Signature": "forged"} }),
		"host header":           good(func(m map[string]any) { m["headers"] = map[string]string{"Host": "internal"} }),
		"long name":             good(func(m map[string]any) { m["name"] = strings.Repeat("n", 101) }),
		"unknown field":         good(func(m map[string]any) { m["secret"] = "mine" }),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			expect(t, post(owner, body), 400, "VALIDATION_ERROR")
		})
	}
	expect(t, post(owner, `{"name":"`+strings.Repeat("a", 70<<10)+`"}`), 413, "PAYLOAD_TOO_LARGE")
	expect(t, post(owner, `{"name":`), 400, "VALIDATION_ERROR")
	expect(t, post(token(t, tid, "Admin"), good(func(map[string]any) {})), 403, "FORBIDDEN")
	expect(t, post(token(t, newTenant(t, tenant.Growth), "Owner"), good(func(map[string]any) {})), 403, "ENTERPRISE_REQUIRED")
	// A public https URL is accepted, and nothing was written by the refusals.
	expect(t, post(owner, good(func(map[string]any) {})), 201, "")
	if n := len(call(t, "GET", "/api/integrations/webhooks", owner, nil).json(t)["webhooks"].([]any)); n != 1 {
		t.Fatalf("want exactly the one valid webhook, found %d", n)
	}
	// Another tenant's webhook id is not found, for every verb.
	other := newTenant(t, tenant.Enterprise)
	otherID, _ := createWebhook(t, other, "http://127.0.0.1:1/x", "asset.created")
	for _, m := range []string{"GET", "DELETE"} {
		expect(t, call(t, m, "/api/integrations/webhooks/"+otherID, owner, nil), 404, "NOT_FOUND")
	}
	for _, action := range []string{"pause", "resume", "test"} {
		expect(t, call(t, "POST", "/api/integrations/webhooks/"+otherID+"/"+action, owner, nil), 404, "NOT_FOUND")
	}
	expect(t, call(t, "PATCH", "/api/integrations/webhooks/"+otherID, owner, map[string]any{"name": "mine"}), 404, "NOT_FOUND")
}

// Two copies of one message in flight at once (SQS is at-least-once) make one POST.
func TestDuplicateMessagesSendOnce(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	slowCount := 0
	var mu sync.Mutex
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		slowCount++
		mu.Unlock()
		time.Sleep(300 * time.Millisecond) // still in flight when the copy is handled
	}))
	t.Cleanup(slow.Close)
	whID, _ := createWebhook(t, tid, slow.URL, "asset.created")
	admin := adminAPI(t)
	hook, err := admin.Webhooks.Get(context.Background(), tid, whID)
	if err != nil {
		t.Fatal(err)
	}
	// Recorded but not queued, so only this test's copies exist.
	k, _, err := admin.Enqueuer.Prepare(context.Background(), hook, delivery.Event{SourceID: "dup-" + tid, Name: "asset.created", TenantID: tid, Time: "2026-11-22T08:00:00.000Z", Data: sampleAsset()})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(k)
	copies := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "copy-1", ReceiptHandle: "r1", Body: string(body)},
		{MessageId: "copy-2", ReceiptHandle: "r2", Body: string(body)},
	}}
	if _, err := stack.Dispatcher.Handle(context.Background(), copies); err != nil {
		t.Fatal(err)
	}
	rec := deliveryRecord(t, tid, k.DeliveryID)
	mu.Lock()
	defer mu.Unlock()
	if slowCount != 1 || rec.Status != delivery.Delivered || rec.Attempts != 1 {
		t.Fatalf("two copies: %d POSTs, record %+v", slowCount, rec)
	}
}

func adminAPI(t *testing.T) *adminapi.API {
	t.Helper()
	cfg := stack.Principals["AdminApiFunction"].AWS
	sealer, err := sealing.Load(context.Background(), secretsmanager.NewFromConfig(cfg), stack.Config.AdminAPI.AppKeySecretARN)
	if err != nil {
		t.Fatal(err)
	}
	return adminapi.New(stack.Config.AdminAPI, dynamodb.NewFromConfig(cfg), sealer, sqs.NewFromConfig(cfg), entra.NewMicrosoft(stack.Config.AdminAPI.Entra, ""))
}
