package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/streamrouter"
	"github.com/uniasset/integrations/shared/tenant"
	"github.com/uniasset/integrations/shared/webhook"
)

// countingSQS counts SendMessageBatch calls and their entries.
type countingSQS struct {
	delivery.SQSAPI
	mu      sync.Mutex
	batches []int
}

func (c *countingSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	c.mu.Lock()
	c.batches = append(c.batches, len(in.Entries))
	c.mu.Unlock()
	return c.SQSAPI.SendMessageBatch(ctx, in, opts...)
}

// failingQueries fails the webhook list of one tenant and counts calls.
type failingQueries struct {
	dynamo.API
	tenant        string
	queries, puts atomic.Int64
}

func (f *failingQueries) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	f.queries.Add(1)
	if pk := in.ExpressionAttributeValues[":pk"]; f.tenant != "" && str(pk) == keyschema.TenantPK(f.tenant) {
		return nil, errors.New("injected: listing webhooks failed")
	}
	return f.API.Query(ctx, in, opts...)
}

func (f *failingQueries) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.puts.Add(1)
	return f.API.PutItem(ctx, in, opts...)
}

func assetRecord(tid string, i int) events.DynamoDBEventRecord {
	id := fmt.Sprintf("asset_r%03d", i)
	pk := keyschema.AssetPK(tid, id)
	return events.DynamoDBEventRecord{
		EventID: fmt.Sprintf("route-%s-%d", tid, i), EventName: "INSERT",
		Change: events.DynamoDBStreamRecord{
			SequenceNumber: fmt.Sprint(1000 + i),
			Keys:           map[string]events.DynamoDBAttributeValue{"PK": events.NewStringAttribute(pk), "SK": events.NewStringAttribute("ASSET")},
			NewImage: map[string]events.DynamoDBAttributeValue{
				"PK": events.NewStringAttribute(pk), "SK": events.NewStringAttribute("ASSET"),
				"assetId": events.NewStringAttribute(id), "assetName": events.NewStringAttribute("Routed"),
				"categoryName": events.NewStringAttribute("c"), "statusName": events.NewStringAttribute("s"),
				"tenantId": events.NewStringAttribute(tid), "version": events.NewNumberAttribute("1"),
				"createdAt": events.NewStringAttribute("2026-11-22T08:00:00.000Z"), "updatedAt": events.NewStringAttribute("2026-11-22T08:00:00.000Z"),
			},
		},
	}
}

// A batch's deliveries are prepared together and queued ten to a
// SendMessageBatch across records; a record that cannot be routed is
// reported, and the records before it are queued.
func TestRouterBatchesAcrossRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid, broken := newTenant(t, tenant.Enterprise), newTenant(t, tenant.Enterprise)
	rv := newReceiver(t, nil)
	createWebhook(t, tid, rv.URL, "asset.created")
	createWebhook(t, tid, rv.URL+"/second", "asset.created")
	createWebhook(t, broken, rv.URL+"/broken", "asset.created")

	router, err := streamrouter.Build(ctx, stack.Config.StreamRouter, stack.Principals["StreamRouterFunction"].AWS)
	if err != nil {
		t.Fatal(err)
	}
	enq, hooks := router.Enqueuer.(*delivery.Enqueuer), router.Webhooks.(alert.Entitled).Subscriptions.(*webhook.Store)
	q := &countingSQS{SQSAPI: enq.Queue.SQS}
	enq.Queue.SQS = q
	db := &failingQueries{API: hooks.DB, tenant: broken}
	hooks.DB, enq.Store.DB = db, db

	var batch events.DynamoDBEvent
	for i := range 25 {
		batch.Records = append(batch.Records, assetRecord(tid, i))
	}
	resp, err := router.Handle(ctx, batch)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("router: %v %+v", err, resp)
	}
	// 25 records x 2 webhooks: one webhook list, 50 records, 5 full batches.
	if got := fmt.Sprint(q.batches); got != "[10 10 10 10 10]" || db.queries.Load() != 1 || db.puts.Load() != 50 {
		t.Fatalf("SendMessageBatch sizes %s, %d queries, %d puts", got, db.queries.Load(), db.puts.Load())
	}
	settled(t, tid)
	if n := len(allDeliveries(t, tid)); n != 50 || len(rv.requests()) != 50 {
		t.Fatalf("%d delivery records, %d POSTs, want 50", n, len(rv.requests()))
	}

	// A record whose tenant's webhooks cannot be listed: the batch stops there.
	q.batches = nil
	mixed := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{assetRecord(tid, 100), assetRecord(tid, 101), assetRecord(broken, 102), assetRecord(tid, 103)}}
	resp, err = router.Handle(ctx, mixed)
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != mixed.Records[2].Change.SequenceNumber {
		t.Fatalf("want the third record reported: %v %+v", err, resp)
	}
	if got := fmt.Sprint(q.batches); got != "[4]" {
		t.Fatalf("the two records before the failure (4 deliveries) must be queued, and nothing after it: %s", got)
	}
	settled(t, tid)
	for _, d := range allDeliveries(t, tid) {
		if strings.Contains(string(d.Payload), "asset_r103") {
			t.Fatal("a record after the failed one was routed; Lambda retries it from the failure")
		}
	}
}
