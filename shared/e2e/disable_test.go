package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/tenant"
)

// An endpoint that keeps failing is disabled. The clock: the webhook's
// failing streak is set to have begun 121 hours ago and been seen twice,
// the last time 13 hours ago (as five days of failures leave it); the next
// failed attempt is its third occasion, and the dispatcher disables it. The
// tenant's other webhook hears webhook.disabled once; a System row says
// why; nothing more is queued or sent; a test event is refused; resume
// re-enables it with its failing streak started afresh and offers the
// recovery of what failed since the streak began.
func TestAutoDisable(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	dead := newReceiver(t, func(int) int { return 503 })
	watcher := newReceiver(t, nil)
	hook, _ := createWebhook(t, tid, dead.URL, "asset.created")
	createWebhook(t, tid, watcher.URL, "webhook.disabled")
	key, _ := newKey(t, tid, "asset:create")
	createAsset(t, key, nil)
	settled(t, tid)
	waitHealth(t, tid, hook, "failing")
	if got := call(t, "GET", "/api/integrations/webhooks/"+hook, owner, nil).json(t); got["status"] != "active" || got["failingSince"] == nil {
		t.Fatalf("after the first failures: %v", got)
	}

	since := isotime.Format(time.Now().Add(-121 * time.Hour))
	_, err := stack.DB.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String(stack.IntegrationsTable), Key: keyschema.Webhook(tid, hook).Attrs(),
		UpdateExpression: aws.String("SET failingSince = :since, failMarks = :two, failMarkAt = :mark"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":since": &types.AttributeValueMemberS{Value: since}, ":two": &types.AttributeValueMemberN{Value: "2"},
			":mark": &types.AttributeValueMemberS{Value: isotime.Format(time.Now().Add(-13 * time.Hour))},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Dispatchers reuse a webhook they read for WEBHOOK_CACHE_TTL: events
	// keep coming (as they would) until one finds the streak and fails.
	var view map[string]any
	for i := 0; ; i++ {
		if i == 30 {
			t.Fatalf("not disabled after 30 failing events: %v", view)
		}
		createAsset(t, key, nil)
		settled(t, tid)
		if view = call(t, "GET", "/api/integrations/webhooks/"+hook, owner, nil).json(t); view["status"] == "disabled" {
			break
		}
	}
	if view["health"] != "disabled" || view["failingSince"] != since || view["disabledAt"] == nil {
		t.Fatalf("disabled: %v", view)
	}

	// The other webhook hears of it once, with the streak's start.
	waitFor(t, 15*time.Second, "webhook.disabled", func() bool { return len(watcher.requests()) == 1 })
	var told struct {
		Event string
		Data  map[string]any
	}
	if err := json.Unmarshal(watcher.requests()[0].Body, &told); err != nil {
		t.Fatal(err)
	}
	if told.Event != "webhook.disabled" || told.Data["webhookId"] != hook || told.Data["failingSince"] != since || told.Data["disabledAt"] != view["disabledAt"] {
		t.Fatalf("webhook.disabled: %s", watcher.requests()[0].Body)
	}
	sys := call(t, "GET", "/api/integrations/activity?source=system&webhookId="+hook, owner, nil)
	if !strings.Contains(string(sys.Body), `"event":"webhook.disabled"`) {
		t.Fatalf("no System row: %s", sys.Body)
	}

	// Disabled: nothing is queued or sent, and a test event is refused.
	sent, rows := len(dead.requests()), len(allDeliveries(t, tid))
	createAsset(t, key, nil)
	settled(t, tid)
	if len(dead.requests()) != sent || len(allDeliveries(t, tid)) != rows {
		t.Fatalf("a disabled webhook got %d more requests, %d more deliveries", len(dead.requests())-sent, len(allDeliveries(t, tid))-rows)
	}
	expect(t, call(t, "POST", "/api/integrations/webhooks/"+hook+"/test", owner, nil), http.StatusConflict, "CONFLICT")
	if len(watcher.requests()) != 1 {
		t.Fatalf("webhook.disabled told %d times", len(watcher.requests()))
	}

	// Resume: active again, its streak started afresh (the days it was
	// disabled do not count), so the next failure does not disable it again.
	resumed := time.Now().Add(-time.Second)
	r := call(t, "POST", "/api/integrations/webhooks/"+hook+"/resume", owner, nil)
	expect(t, r, http.StatusOK, "")
	got := r.json(t)
	fresh, _ := time.Parse(time.RFC3339, asString(got["failingSince"]))
	if got["status"] != "active" || got["disabledAt"] != nil || fresh.Before(resumed) {
		t.Fatalf("resumed: %s", r.Body)
	}
	// The answer offers to recover what failed since the streak began, as
	// a request that is accepted as it stands.
	offer, _ := got["suggestedRecovery"].(map[string]any)
	body, _ := offer["body"].(map[string]any)
	// From the streak's start, less the retry schedule (the attempt that
	// began it may retry an earlier event).
	var span time.Duration
	for _, d := range stack.Config.AdminAPI.RetrySchedule {
		span += d
	}
	start, _ := isotime.Parse(since)
	if offer["method"] != "POST" || offer["href"] != "/api/integrations/webhooks/"+hook+"/recover" || body["since"] != isotime.Format(start.Add(-span)) {
		t.Fatalf("resume offered %v", got["suggestedRecovery"])
	}
	expect(t, call(t, "POST", asString(offer["href"]), owner, body), http.StatusAccepted, "")
	createAsset(t, key, nil)
	settled(t, tid)
	if len(dead.requests()) == sent {
		t.Fatal("the resumed webhook got nothing")
	}
	if got := call(t, "GET", "/api/integrations/webhooks/"+hook, owner, nil).json(t); got["status"] != "active" {
		t.Fatalf("disabled again at once: %v", got)
	}
}
