package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/shardmark"
	"github.com/uniasset/integrations/shared/tenant"
	"github.com/uniasset/integrations/shared/webhook"
)

// DeliveryShards lowered in a deploy, from 16 to the stack's 8: a delivery
// written under 16 shards, in a shard the new setting no longer has, is
// still attempted when its message comes (the message carries its
// partition), still listed in the Activity Log (readers read up to the
// shard mark the old writers raised), and its row still opens and resends.
// Not parallel: it raises the process-wide mark, and removes it after.
func TestShardChangeLosesNothing(t *testing.T) {
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	rv := newReceiver(t, nil)
	hook, _ := createWebhook(t, tid, rv.URL, "asset.created")
	marks := shardmark.Store{DB: stack.DB, Table: stack.IntegrationsTable}
	t.Cleanup(func() {
		_, _ = stack.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(stack.IntegrationsTable), Key: keyschema.ShardMark().Attrs()})
	})

	// The old deploy: 16 shards, its writers raise the mark.
	const old = 16
	if stack.Config.StreamRouter.DeliveryShards >= old {
		t.Fatalf("the stack runs %d delivery shards; the test lowers from %d", stack.Config.StreamRouter.DeliveryShards, old)
	}
	if err := marks.Raise(ctx, shardmark.Deliveries, old); err != nil {
		t.Fatal(err)
	}
	p := stack.Principals["StreamRouterFunction"].AWS
	enq := delivery.NewEnqueuer(dynamodb.NewFromConfig(p), sqs.NewFromConfig(p), stack.IntegrationsTable, old, stack.Config.StreamRouter.DeliveryQueueURL, stack.Config.StreamRouter.Retention)
	var k delivery.Key
	for i := 0; ; i++ {
		e := delivery.Event{SourceID: fmt.Sprintf("ev_shard_%d", i), Name: "asset.created", TenantID: tid, Time: isotime.Format(time.Now()), Data: sampleAsset()}
		if delivery.Shard(delivery.ID(e.SourceID, e.Name, hook), old) < stack.Config.StreamRouter.DeliveryShards {
			continue // one the new setting still has would prove nothing
		}
		var err error
		if k, _, err = enq.Prepare(ctx, webhook.Webhook{TenantID: tid, ID: hook, Name: "ERP sink", Status: webhook.Active}, e); err != nil {
			t.Fatal(err)
		}
		break
	}

	// The new deploy's dispatcher (8 shards) gets the old message.
	if err := enq.Send(ctx, []delivery.Key{k}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the delivery from the old shard", func() bool { return len(rv.requests()) == 1 })
	settled(t, tid)
	if got := rv.requests()[0].Header.Get("webhook-id"); got != k.DeliveryID {
		t.Fatalf("delivered %s, want %s", got, k.DeliveryID)
	}

	// The Activity Log (8 shards configured) lists it, opens it and resends it.
	rows := call(t, "GET", "/api/integrations/activity?source=webhook", owner, nil).json(t)["rows"].([]any)
	if len(rows) != 1 {
		t.Fatalf("%d webhook rows, want the one in shard ≥ 8", len(rows))
	}
	row := rows[0].(map[string]any)
	id := row["id"].(string)
	if row["status"] != "delivered" || !strings.HasPrefix(id, "whk-s") {
		t.Fatalf("row %v", row)
	}
	expect(t, call(t, "GET", "/api/integrations/activity/"+url.PathEscape(id), owner, nil), http.StatusOK, "")
	expect(t, call(t, "POST", "/api/integrations/activity/"+url.PathEscape(id)+"/resend", owner, nil), http.StatusAccepted, "")
	waitFor(t, 15*time.Second, "the resend", func() bool { return len(rv.requests()) == 2 })
	for _, bad := range []string{"whk-s-x", "whk-s9999-" + strings.TrimPrefix(id, id[:strings.Index(id[5:], "-")+6]), "whk-s01-x"} {
		expect(t, call(t, "GET", "/api/integrations/activity/"+url.PathEscape(bad), owner, nil), http.StatusNotFound, "NOT_FOUND")
	}
}
