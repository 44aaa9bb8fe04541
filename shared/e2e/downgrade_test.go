package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/tenant"
	"github.com/uniasset/integrations/shared/webhook"
)

// The main app moves an Enterprise tenant to Growth: from then on it gets
// no events and no alerts, a delivery queued before is discarded when its
// turn comes, and Entra sync leaves it alone; its Owner can still list,
// see, pause and delete its webhooks and disconnect Entra, but not create,
// edit, resume or test one.
func TestDowngradedTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	rv := newReceiver(t, nil)
	hook, _ := createWebhook(t, tid, rv.URL, "asset.created", "warranty.expiring")
	key, _ := newKey(t, tid, "asset:create")
	createAsset(t, key, nil)
	settled(t, tid)
	if len(rv.requests()) != 1 {
		t.Fatalf("%d requests on Enterprise, want 1", len(rv.requests()))
	}
	d := newDirectory(t, 2, "Staff")
	connect(t, tid, d)

	// A delivery queued just before the downgrade (made as the router makes it).
	enq := delivery.NewEnqueuer(dynamodb.NewFromConfig(stack.Principals["StreamRouterFunction"].AWS), sqs.NewFromConfig(stack.Principals["StreamRouterFunction"].AWS),
		stack.IntegrationsTable, stack.Config.StreamRouter.DeliveryShards, stack.Config.StreamRouter.DeliveryQueueURL, stack.Config.StreamRouter.Retention)
	queued, _, err := enq.Prepare(ctx, webhook.Webhook{TenantID: tid, ID: hook, Name: "ERP sink", Status: webhook.Active},
		delivery.Event{SourceID: "ev_before_downgrade", Name: "asset.created", TenantID: tid, Time: isotime.Format(time.Now()), Data: sampleAsset()})
	if err != nil {
		t.Fatal(err)
	}

	if err := (&tenant.Store{DB: stack.DB, Table: stack.IntegrationsTable}).Put(ctx, tenant.Profile{TenantID: tid, Name: "Downgraded", Plan: tenant.Growth}); err != nil {
		t.Fatal(err)
	}

	// Its turn comes, at a dispatcher that has not seen the tenant since.
	dispatcher, err := delivery.Build(ctx, stack.Config.Dispatcher, stack.Principals["DispatcherFunction"].AWS)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(queued)
	if _, err := dispatcher.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: string(body)}}}); err != nil {
		t.Fatal(err)
	}
	rec, _, err := enq.Store.Get(ctx, queued)
	if err != nil || rec.Status != delivery.Failed || !strings.Contains(rec.LastError, "plan") {
		t.Fatalf("the queued delivery after the downgrade: %s %q, %v", rec.Status, rec.LastError, err)
	}

	// The main app writes an asset whose warranty ends in 10 days: no event, no alert.
	item := keyschema.Asset(tid, "asset_after").Attrs()
	for k, v := range map[string]types.AttributeValue{"entity": sv("asset"), "tenantId": sv(tid), "assetId": sv("asset_after"), "assetName": sv("After"),
		"categoryName": sv("Vehicles"), "statusName": sv("ACTIVE"), "version": &types.AttributeValueMemberN{Value: "1"},
		"warrantyExpiresAt": sv(isoIn(10 * 24 * time.Hour)), "createdAt": sv(isotime.Format(time.Now())), "updatedAt": sv(isotime.Format(time.Now()))} {
		item[k] = v
	}
	putAssetsItem(t, item, "asset_after")
	settled(t, tid)
	if n := len(rv.requests()); n != 1 {
		t.Fatalf("%d requests after the downgrade, want still 1", n)
	}

	// Entra sync leaves the tenant alone.
	if out, err := stack.EntraSync.Syncer.Sync(ctx, tid); err != nil || out.Ran {
		t.Fatalf("a sync of a Growth tenant: ran %v, %v", out.Ran, err)
	}

	// What the Owner can still do, and what needs Enterprise.
	webhooks := "/api/integrations/webhooks"
	if got := call(t, "GET", webhooks, owner, nil); got.Status != http.StatusOK || len(got.json(t)["webhooks"].([]any)) != 1 {
		t.Fatalf("list on Growth: %d %s", got.Status, got.Body)
	}
	expect(t, call(t, "GET", webhooks+"/"+hook, owner, nil), http.StatusOK, "")
	expect(t, call(t, "POST", webhooks+"/"+hook+"/pause", owner, nil), http.StatusOK, "")
	for _, c := range []struct{ method, path string }{
		{"POST", webhooks + "/" + hook + "/resume"}, {"POST", webhooks + "/" + hook + "/test"}, {"PATCH", webhooks + "/" + hook},
		{"POST", webhooks}, {"POST", webhooks + "/" + hook + "/rotate-secret"}, {"POST", "/api/integrations/entra/sync"},
	} {
		expect(t, call(t, c.method, c.path, owner, map[string]any{"name": "x"}), http.StatusForbidden, "ENTERPRISE_REQUIRED")
	}
	expect(t, call(t, "GET", webhooks, token(t, tid, "Admin"), nil), http.StatusForbidden, "FORBIDDEN")
	expect(t, call(t, "POST", "/api/integrations/entra/disconnect", owner, nil), http.StatusNoContent, "")
	expect(t, call(t, "DELETE", webhooks+"/"+hook, owner, nil), http.StatusNoContent, "")
	expect(t, call(t, "GET", webhooks+"/"+hook, owner, nil), http.StatusNotFound, "NOT_FOUND")
}
