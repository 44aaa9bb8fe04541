package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/tenant"
)

// receiver is a customer endpoint on loopback that records what arrives.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(n int) int // status for the n-th request (1-based)
	// retryAfter, when set, is sent as Retry-After with every answer.
	retryAfter time.Duration
	// challenged counts verification challenges (GETs), which it answers
	// with challengeAnswer (nil: the echo an endpoint owner writes).
	challenged      int
	challengeAnswer func(w http.ResponseWriter, value string)
}

type received struct {
	Header http.Header
	Body   []byte
}

// newReceiver starts a receiver. Every body it gets is checked against the
// OpenAPI document's webhooks section; a mismatch fails the test.
func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	rv := &receiver{answer: answer}
	var problems []string
	t.Cleanup(func() {
		rv.mu.Lock()
		defer rv.mu.Unlock()
		for _, p := range problems {
			t.Error(p)
		}
	})
	rv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			rv.mu.Lock()
			rv.challenged++
			answer := rv.challengeAnswer
			rv.mu.Unlock()
			if answer == nil {
				answer = func(w http.ResponseWriter, value string) {
					_ = json.NewEncoder(w).Encode(map[string]string{"verification": value})
				}
			}
			answer(w, r.Header.Get(delivery.ChallengeHeader))
			return
		}
		body, _ := io.ReadAll(r.Body)
		if p := eventProblem(body); p != "" {
			rv.mu.Lock()
			problems = append(problems, p)
			rv.mu.Unlock()
		}
		rv.mu.Lock()
		rv.got = append(rv.got, received{Header: r.Header.Clone(), Body: body})
		n, retryAfter := len(rv.got), rv.retryAfter
		rv.mu.Unlock()
		status := 200
		if rv.answer != nil {
			status = rv.answer(n)
		}
		if retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds())))
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(rv.Close)
	return rv
}

func (rv *receiver) requests() []received {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return append([]received(nil), rv.got...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settled waits until nothing more will be sent to the tenants' webhooks:
// every change written so far has been routed (their delivery records exist)
// and none of their deliveries is pending. Tests prove that nothing arrives
// with it, never with a sleep.
func settled(t *testing.T, tenantIDs ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := stack.StreamCaughtUp(ctx); err != nil {
		t.Fatalf("the stream poller did not catch up: %v", err)
	}
	waitFor(t, 60*time.Second, "no pending delivery", func() bool {
		for _, tid := range tenantIDs {
			for _, d := range allDeliveries(t, tid) {
				if d.Status == delivery.Pending {
					return false
				}
			}
		}
		return true
	})
}

// waitHealth waits for a webhook's badge: it is written after the delivery
// record settles, so a test reading it at once would race the dispatcher.
func waitHealth(t *testing.T, tenantID, webhookID, want string) {
	t.Helper()
	var got any
	waitFor(t, 30*time.Second, "health "+want, func() bool {
		got = call(t, "GET", "/api/integrations/webhooks/"+webhookID, token(t, tenantID, "Owner"), nil).json(t)["health"]
		return got == want
	})
}

func createWebhook(t *testing.T, tenantID, url string, events ...string) (id, secret string) {
	t.Helper()
	r := call(t, "POST", "/api/integrations/webhooks", token(t, tenantID, "Owner"),
		map[string]any{"name": "ERP sink", "url": url, "events": events, "headers": map[string]string{"X-Api-Key": "receiver-secret"}})
	expect(t, r, http.StatusCreated, "")
	m := r.json(t)
	return m["id"].(string), m["secret"].(string)
}

func TestWebhookEndToEnd(t *testing.T) {
	tid := newTenant(t, tenant.Enterprise)
	other := newTenant(t, tenant.Enterprise)
	rv := newReceiver(t, nil)
	otherRv := newReceiver(t, nil)
	whID, secret := createWebhook(t, tid, rv.URL+"/hooks", "asset.created", "asset.updated")
	createWebhook(t, other, otherRv.URL, "asset.created")

	key, _ := newKey(t, tid, allPermissions...)
	a := createAsset(t, key, map[string]any{"name": "Forklift A-17", "categoryName": "Vehicles", "statusName": "ACTIVE"})
	waitFor(t, 15*time.Second, "the delivery", func() bool { return len(rv.requests()) == 1 })

	got := rv.requests()[0]
	var body struct {
		Event     string         `json:"event"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(got.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Event != "asset.created" || body.Data["assetId"] != a["assetId"] || body.Data["assetName"] != "Forklift A-17" ||
		body.Data["categoryName"] != "Vehicles" || body.Data["statusName"] != "ACTIVE" || body.Timestamp != a["createdAt"] {
		t.Fatalf("payload: %s", got.Body)
	}
	h := got.Header
	if h.Get("Content-Type") != "application/json" || h.Get("X-UniAsset-Event") != "asset.created" || h.Get("X-Api-Key") != "receiver-secret" {
		t.Fatalf("headers: %v", h)
	}
	if _, err := time.Parse(time.RFC3339, h.Get("X-UniAsset-Timestamp")); err != nil {
		t.Fatalf("X-UniAsset-Timestamp %q: %v", h.Get("X-UniAsset-Timestamp"), err)
	}
	// The spec's check: hex HMAC-SHA256 of the raw body, keyed by the secret string.
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(got.Body)
	if h.Get("X-UniAsset-Signature") != hex.EncodeToString(mac.Sum(nil)) {
		t.Fatal("X-UniAsset-Signature does not verify")
	}
	// A receiver using the Standard Webhooks library.
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(got.Body, h); err != nil {
		t.Fatalf("Standard Webhooks verification: %v", err)
	}

	// No other tenant's endpoint heard of it.
	settled(t, tid, other)
	if n := len(otherRv.requests()); n != 0 {
		t.Fatalf("another tenant's webhook got %d deliveries", n)
	}
	// The delivery is recorded as delivered, and the webhook is healthy.
	rec := deliveryRecord(t, tid, h.Get("webhook-id"))
	if rec.Status != delivery.Delivered || rec.Attempts != 1 || rec.LastStatusCode != 200 || rec.WebhookID != whID {
		t.Fatalf("delivery record: %+v", rec)
	}
	waitHealth(t, tid, whID, "healthy")
	view := call(t, "GET", "/api/integrations/webhooks/"+whID, token(t, tid, "Owner"), nil).json(t)
	if view["health"] != "healthy" || view["headers"].(map[string]any)["X-Api-Key"] != "[REDACTED]" {
		t.Fatalf("webhook view: %v", view)
	}
	listed := call(t, "GET", "/api/integrations/webhooks", token(t, tid, "Owner"), nil).json(t)["webhooks"].([]any)[0].(map[string]any)
	if listed["headers"].(map[string]any)["X-Api-Key"] != "[REDACTED]" || listed["id"] != whID {
		t.Fatalf("list shows other headers than get: %v", listed)
	}
}

// deliveryRecord finds a delivery by id through the by-webhook index (tests only).
func deliveryRecord(t *testing.T, tenantID, deliveryID string) delivery.Record {
	t.Helper()
	store := &delivery.Store{DB: stack.DB, Table: stack.IntegrationsTable, Shards: stack.Config.Dispatcher.DeliveryShards}
	for _, r := range allDeliveries(t, tenantID) {
		if r.DeliveryID == deliveryID {
			fresh, _, err := store.Get(context.Background(), r.Key())
			if err != nil {
				t.Fatal(err)
			}
			return fresh
		}
	}
	t.Fatalf("no delivery %s", deliveryID)
	return delivery.Record{}
}

func allDeliveries(t *testing.T, tenantID string) []delivery.Record {
	t.Helper()
	store := &delivery.Store{DB: stack.DB, Table: stack.IntegrationsTable, Shards: stack.Config.Dispatcher.DeliveryShards}
	recs, err := store.Recent(context.Background(), tenantID, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// A webhook created paused (Appspace's "Status: Inactive" at creation) gets
// nothing queued until it is resumed, while an active one of the same
// tenant gets the same event; a status other than active or paused is
// refused with its field named, and nothing is created.
func TestWebhookCreatedPaused(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	body := func(url, status string) map[string]any {
		return map[string]any{"name": "Staged sink", "url": url, "events": []string{"asset.created"}, "status": status}
	}
	for _, bad := range []any{"disabled", "PAUSED", 1, true} {
		b := body("http://127.0.0.1:9/x", "")
		b["status"] = bad
		expect(t, call(t, "POST", "/api/integrations/webhooks", owner, b), http.StatusBadRequest, "VALIDATION_ERROR")
	}
	if n := len(call(t, "GET", "/api/integrations/webhooks", owner, nil).json(t)["webhooks"].([]any)); n != 0 {
		t.Fatalf("a refused create left %d webhooks", n)
	}
	staged, live := newReceiver(t, nil), newReceiver(t, nil)
	r := call(t, "POST", "/api/integrations/webhooks", owner, body(staged.URL, "paused"))
	expect(t, r, http.StatusCreated, "")
	created := r.json(t)
	if created["status"] != "paused" || created["health"] != "paused" || created["secret"] == nil {
		t.Fatalf("created paused: %s", r.Body)
	}
	id := created["id"].(string)
	createWebhook(t, tid, live.URL, "asset.created")
	key, _ := newKey(t, tid, "asset:create")
	createAsset(t, key, nil)
	settled(t, tid)
	if len(live.requests()) != 1 || len(staged.requests()) != 0 {
		t.Fatalf("active got %d, paused got %d (want 1 and 0)", len(live.requests()), len(staged.requests()))
	}
	expect(t, call(t, "POST", "/api/integrations/webhooks/"+id+"/resume", owner, nil), http.StatusOK, "")
	createAsset(t, key, nil)
	waitFor(t, 15*time.Second, "the resumed webhook's delivery", func() bool { return len(staged.requests()) == 1 })
}

// Beyond the spec's thirteen: an asset item removed by any writer (here
// straight from the table, as the main app would) is asset.deleted with
// the asset as it was; a maintenance record completed through the API is
// maintenance.completed, once (a later edit of the completed record is
// not another). Each delivery is checked against the OpenAPI document.
func TestDeletionAndCompletionEvents(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	rv := newReceiver(t, nil)
	createWebhook(t, tid, rv.URL, "asset.deleted", "maintenance.completed")
	key, _ := newKey(t, tid, allPermissions...)
	id := createAsset(t, key, map[string]any{"name": "Old forklift", "categoryName": "Vehicles", "statusName": "ACTIVE"})["assetId"].(string)
	r := call(t, "POST", "/api/integrations/assets/maintenance", key, map[string]any{"assetId": id, "title": "Final check"})
	expect(t, r, 201, "")
	mnt := r.json(t)["maintenanceId"].(string)
	expect(t, call(t, "POST", "/api/integrations/assets/maintenance/update", key, map[string]any{"assetId": id, "maintenanceId": mnt, "performedAt": isoIn(-time.Hour)}), 200, "")
	expect(t, call(t, "POST", "/api/integrations/assets/maintenance/update", key, map[string]any{"assetId": id, "maintenanceId": mnt, "title": "Final check (signed)"}), 200, "")
	settled(t, tid)
	if _, err := stack.DB.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(stack.AssetsTable), Key: keyschema.Asset(tid, id).Attrs()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "two deliveries", func() bool { return len(rv.requests()) >= 2 })
	settled(t, tid)
	got := map[string]map[string]any{}
	for _, req := range rv.requests() {
		var body map[string]any
		if err := json.Unmarshal(req.Body, &body); err != nil {
			t.Fatal(err)
		}
		got[req.Header.Get("X-UniAsset-Event")] = body["data"].(map[string]any)
	}
	if len(rv.requests()) != 2 || got["asset.deleted"]["assetId"] != id || got["asset.deleted"]["assetName"] != "Old forklift" ||
		got["maintenance.completed"]["maintenanceId"] != mnt || got["maintenance.completed"]["performedAt"] == nil {
		t.Fatalf("%d deliveries: %v", len(rv.requests()), got)
	}
}

// A webhook created with the caller's own secret signs with it: the spec's
// X-UniAsset-Signature and a Standard Webhooks library holding that secret
// both verify the delivery. A secret in another form is refused.
func TestWebhookWithTheCallersSecret(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	raw := make([]byte, 40)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	mine := "whsec_" + base64.StdEncoding.EncodeToString(raw)
	body := func(secret string) map[string]any {
		return map[string]any{"name": "Migrated sink", "url": "http://127.0.0.1:9/x", "events": []string{"asset.created"}, "secret": secret}
	}
	for _, bad := range []string{"whsec_" + base64.StdEncoding.EncodeToString(raw[:16]), "shh", base64.StdEncoding.EncodeToString(raw)} {
		expect(t, call(t, "POST", "/api/integrations/webhooks", owner, body(bad)), http.StatusBadRequest, "VALIDATION_ERROR")
	}
	rv := newReceiver(t, nil)
	b := body(mine)
	b["url"] = rv.URL
	r := call(t, "POST", "/api/integrations/webhooks", owner, b)
	expect(t, r, http.StatusCreated, "")
	if r.json(t)["secret"] != mine {
		t.Fatalf("the 201 shows another secret: %s", r.Body)
	}
	key, _ := newKey(t, tid, "asset:create")
	createAsset(t, key, nil)
	waitFor(t, 15*time.Second, "the delivery", func() bool { return len(rv.requests()) == 1 })
	got := rv.requests()[0]
	mac := hmac.New(sha256.New, []byte(mine))
	mac.Write(got.Body)
	if got.Header.Get("X-UniAsset-Signature") != hex.EncodeToString(mac.Sum(nil)) {
		t.Fatal("X-UniAsset-Signature does not verify with the caller's secret")
	}
	wh, err := standardwebhooks.NewWebhook(mine)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(got.Body, got.Header); err != nil {
		t.Fatalf("Standard Webhooks verification with the caller's secret: %v", err)
	}
}
