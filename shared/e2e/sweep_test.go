package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/streamrouter"
	"github.com/uniasset/integrations/shared/tenant"
	"github.com/uniasset/integrations/shared/webhook"
)

// park puts body in a dead-letter queue, as SQS or Lambda would.
func park(t *testing.T, queueURL string, body any) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqs.NewFromConfig(stack.AWS).SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(string(raw))}); err != nil {
		t.Fatal(err)
	}
}

// sweepCtx is a tick's context: the function's Timeout.
func sweepCtx(t *testing.T, fn string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), stack.Template.Timeout(fn))
	t.Cleanup(cancel)
	return ctx
}

// Deliveries whose messages were dead-lettered: the dispatcher's sweep
// (with its own IAM) queues a pending one again, and it is delivered; it
// ends one already queued again MaxRedrives times (failed, saying why);
// it settles a message whose delivery had ended without sending anything;
// it drops a malformed one. A second sweep finds nothing.
func TestDeliveryDLQSweep(t *testing.T) {
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	rv := newReceiver(t, nil)
	hook, _ := createWebhook(t, tid, rv.URL, "asset.created")
	enq := delivery.NewEnqueuer(dynamodb.NewFromConfig(stack.Principals["StreamRouterFunction"].AWS), sqs.NewFromConfig(stack.Principals["StreamRouterFunction"].AWS),
		stack.IntegrationsTable, stack.Config.StreamRouter.DeliveryShards, stack.Config.StreamRouter.DeliveryQueueURL, stack.Config.StreamRouter.Retention)
	// A pending delivery, its message lost to the DLQ (recorded, never queued here).
	prepare := func(source string) delivery.Key {
		k, _, err := enq.Prepare(ctx, webhook.Webhook{TenantID: tid, ID: hook, Name: "ERP sink", Status: webhook.Active},
			delivery.Event{SourceID: source, Name: "asset.created", TenantID: tid, Time: isotime.Format(time.Now()), Data: sampleAsset()})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	lost, worn, done := prepare("ev_lost"), prepare("ev_worn"), prepare("ev_done")
	_, err := stack.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(stack.IntegrationsTable), Key: key(worn.PK, worn.SK),
		UpdateExpression: aws.String("SET redrives = :n"), ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberN{Value: strconv.Itoa(delivery.MaxRedrives)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = stack.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(stack.IntegrationsTable), Key: key(done.PK, done.SK),
		UpdateExpression: aws.String("SET #s = :d"), ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": sv(delivery.Delivered)},
	})
	if err != nil {
		t.Fatal(err)
	}
	dlq := stack.Config.Dispatcher.DeliveryDLQURL
	for _, k := range []delivery.Key{lost, worn, done} {
		park(t, dlq, k)
	}
	park(t, dlq, map[string]any{"nonsense": true})

	n, err := stack.Dispatcher.SweepDeadLetters(sweepCtx(t, "DispatcherFunction"))
	if err != nil {
		t.Fatal(err)
	}
	if n.Requeued < 1 || n.Ended < 1 || n.Settled < 1 || n.Malformed < 1 {
		t.Fatalf("swept %+v", n)
	}
	waitFor(t, 20*time.Second, "the lost delivery, sent", func() bool {
		rec, _, _ := enq.Store.Get(ctx, lost)
		return rec.Status == delivery.Delivered
	})
	if got := len(rv.requests()); got != 1 {
		t.Fatalf("the receiver got %d requests; want the lost delivery alone", got)
	}
	rec, _, _ := enq.Store.Get(ctx, worn)
	if rec.Status != delivery.Failed || !strings.Contains(rec.LastError, "resend or recover") || rec.Redrives != delivery.MaxRedrives {
		t.Fatalf("the worn delivery: %s %q after %d redrives", rec.Status, rec.LastError, rec.Redrives)
	}
	if rec, _, _ := enq.Store.Get(ctx, lost); rec.Redrives != 1 {
		t.Fatalf("the lost delivery counts %d redrives", rec.Redrives)
	}
	if n, err := stack.Dispatcher.SweepDeadLetters(sweepCtx(t, "DispatcherFunction")); err != nil || n != (delivery.Swept{}) {
		t.Fatalf("a second sweep: %+v, %v", n, err)
	}
}

// A stream batch Lambda parked in StreamDLQ is read from the stream again
// and routed by the router's sweep (with its own IAM): an asset written
// while its tenant's routing failed reaches the webhook once; a batch
// already routed sends nothing twice; a malformed message is dropped. (A
// batch the stream no longer holds is a unit test: moto answers a 500 for
// an unknown shard where DynamoDB Streams answers ResourceNotFound.)
func TestStreamDLQSweep(t *testing.T) {
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, "asset:create")
	rv := newReceiver(t, nil)
	// Written before the webhook existed: routed to no one. Redriving it
	// stands for a batch whose routing failed (here, as if the webhook's
	// list had not been read).
	missed := createAsset(t, key, map[string]any{"name": "Missed", "categoryName": "Vehicles", "statusName": "ACTIVE"})
	settled(t, tid)
	hook, _ := createWebhook(t, tid, rv.URL, "asset.created")
	routed := createAsset(t, key, map[string]any{"name": "Routed", "categoryName": "Vehicles", "statusName": "ACTIVE"})
	settled(t, tid)
	if len(rv.requests()) != 1 {
		t.Fatalf("%d deliveries before the sweep, want 1", len(rv.requests()))
	}
	dlq := stack.Config.StreamRouter.StreamDLQURL
	for _, a := range []map[string]any{missed, routed} {
		shard, seq := streamPosition(t, tid, asString(a["assetId"]))
		park(t, dlq, lambdaStreamFailure(shard, seq))
	}
	park(t, dlq, map[string]any{"requestContext": map[string]any{}})

	n, err := stack.Router.SweepStreamDLQ(sweepCtx(t, "StreamRouterFunction"))
	if err != nil {
		t.Fatal(err)
	}
	if n.Batches < 2 || n.Malformed < 1 {
		t.Fatalf("swept %+v", n)
	}
	settled(t, tid)
	got := rv.requests()
	if len(got) != 2 || !strings.Contains(string(got[1].Body), asString(missed["assetId"])) {
		t.Fatalf("after the sweep the receiver has %d deliveries: %s", len(got), got[len(got)-1].Body)
	}
	rows := allDeliveries(t, tid)
	if len(rows) != 2 || rows[0].WebhookID != hook {
		t.Fatalf("%d delivery records", len(rows))
	}
	if n, err := stack.Router.SweepStreamDLQ(sweepCtx(t, "StreamRouterFunction")); err != nil || n != (streamrouter.Redriven{}) {
		t.Fatalf("a second sweep: %+v, %v", n, err)
	}
}

// streamPosition finds the stream record of an asset's creation.
func streamPosition(t *testing.T, tenantID, assetID string) (shard, seq string) {
	t.Helper()
	ctx := context.Background()
	streams := dynamodbstreams.NewFromConfig(stack.AWS)
	arn := stack.Resources["AssetsTable"].StreamARN
	desc, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	pk := keyschema.Asset(tenantID, assetID).PK
	for _, sh := range desc.StreamDescription.Shards {
		it, err := streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn), ShardId: sh.ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		for iter := it.ShardIterator; iter != nil; {
			page, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(1000)})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Records) == 0 {
				break
			}
			for _, r := range page.Records {
				k, _ := r.Dynamodb.Keys["PK"].(*streamtypes.AttributeValueMemberS)
				sk, _ := r.Dynamodb.Keys["SK"].(*streamtypes.AttributeValueMemberS)
				if k != nil && sk != nil && k.Value == pk && sk.Value == "ASSET" && r.EventName == streamtypes.OperationTypeInsert {
					return aws.ToString(sh.ShardId), aws.ToString(r.Dynamodb.SequenceNumber)
				}
			}
			iter = page.NextShardIterator
		}
	}
	t.Fatalf("no stream record of %s", assetID)
	return "", ""
}

// lambdaStreamFailure is what Lambda's on-failure destination gets for a
// stream batch of one record.
func lambdaStreamFailure(shard, seq string) map[string]any {
	return map[string]any{
		"requestContext": map[string]any{"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11},
		"DDBStreamBatchInfo": map[string]any{"shardId": shard, "startSequenceNumber": seq, "endSequenceNumber": seq, "batchSize": 1,
			"streamArn": stack.Resources["AssetsTable"].StreamARN},
		"version": "1.0",
	}
}

// A delivery whose message the queue refuses after its record is written
// (a test event, a resend) is ended failed, saying so, not left pending
// with nothing to send it.
func TestUnqueuedDeliveryEnds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	rv := newReceiver(t, nil)
	hook, _ := createWebhook(t, tid, rv.URL, "asset.created")
	admin := stack.Principals["AdminApiFunction"].AWS
	// The admin API's own credentials; a queue that refuses every message.
	enq := delivery.NewEnqueuer(dynamodb.NewFromConfig(admin), sqs.NewFromConfig(admin), stack.IntegrationsTable,
		stack.Config.AdminAPI.DeliveryShards, stack.Config.AdminAPI.DeliveryQueueURL+"-gone", stack.Config.AdminAPI.Retention)
	w := webhook.Webhook{TenantID: tid, ID: hook, Name: "ERP sink", Status: webhook.Active}
	k, err := enq.Enqueue(ctx, w, delivery.Event{SourceID: "test_unqueued", Name: "asset.created", TenantID: tid, Time: isotime.Format(time.Now()), Data: sampleAsset(), Test: true})
	if err == nil {
		t.Fatal("a refused message was reported queued")
	}
	rec, found, err := enq.Store.Get(ctx, k)
	if err != nil || !found || rec.Status != delivery.Failed || !strings.Contains(rec.LastError, "could not be queued") {
		t.Fatalf("the unqueued test event: %+v (found %v, %v)", rec, found, err)
	}
	if _, err := enq.Resend(ctx, rec, "owner@"+tid, time.Now()); err == nil {
		t.Fatal("a refused resend was reported queued")
	}
	if rec, _, _ := enq.Store.Get(ctx, k); rec.Status != delivery.Failed || !strings.Contains(rec.LastError, "resend could not be queued") {
		t.Fatalf("the unqueued resend: %s %q", rec.Status, rec.LastError)
	}
	if len(rv.requests()) != 0 {
		t.Fatalf("the receiver got %d requests", len(rv.requests()))
	}
}

// failingDeliveries refuses every delivery record: the run that fires
// through it dies between its marker and its deliveries.
type failingDeliveries struct{}

func (failingDeliveries) Prepare(context.Context, webhook.Webhook, delivery.Event) (delivery.Key, bool, error) {
	return delivery.Key{}, false, errors.New("the run died")
}

func (failingDeliveries) Send(context.Context, []delivery.Key) error {
	return errors.New("the run died")
}

// An alert whose run died after its marker (left "firing", its deliveries
// never queued) is finished by the next alerts pass once it has been
// firing for StuckAfter: sent once, as it fired, to the webhook it named;
// the marker ends fired and a later pass sends nothing more.
func TestStuckAlertIsFinished(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	rv := newReceiver(t, nil)
	hook, _ := createWebhook(t, tid, rv.URL, "warranty.expiring")
	hooks, _, err := stack.Alerts.Webhooks.ListReadable(ctx, tid)
	if err != nil || len(hooks) != 1 || hooks[0].ID != hook {
		t.Fatalf("webhooks %v, %v", hooks, err)
	}
	dying := *stack.Alerts.Firer
	dying.Deliveries = failingDeliveries{}
	due := isotime.Format(time.Now().Add(20 * 24 * time.Hour))
	m := alert.Milestone{Entry: alert.Entry{TenantID: tid, AssetID: "asset_stuck", Kind: alert.WarrantyKind, ItemSK: "ASSET", DueAt: due}, Event: "warranty.expiring"}
	a := sampleAsset()
	a.AssetID, a.AssetName, a.WarrantyExpiresAt = "asset_stuck", "Stuck", &due
	data := alert.Data{AssetID: a.AssetID, AssetName: a.AssetName, DueDate: due, DaysRemaining: 20, Asset: &a}
	firedAt := time.Now().Add(-alert.StuckAfter - time.Minute)
	if _, err := dying.Fire(ctx, m, data, hooks, firedAt); err == nil {
		t.Fatal("the dying run reported its alert queued")
	}

	p := newPass(t, isotime.Format(time.Now()))
	p.Backfill = nil
	if err := p.Handle(ctx, nil); err != nil {
		t.Fatal(err)
	}
	settled(t, tid)
	got := alertsReceived(t, rv)["warranty.expiring"]
	if len(got) != 1 || got[0]["dueDate"] != due || got[0]["assetName"] != "Stuck" {
		t.Fatalf("alerts received: %v", got)
	}
	if err := p.Handle(ctx, nil); err != nil {
		t.Fatal(err)
	}
	settled(t, tid)
	if n := len(rv.requests()); n != 1 {
		t.Fatalf("%d requests after a second pass", n)
	}
	marker, err := stack.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(stack.IntegrationsTable), ConsistentRead: aws.Bool(true),
		Key: keyschema.AlertMarker(tid, "asset_stuck", "ASSET", "warranty.expiring", due).Attrs()})
	if err != nil || marker.Item["state"].(*types.AttributeValueMemberS).Value != "fired" || marker.Item[keyschema.ByResourcePK] != nil || marker.Item["data"] != nil {
		t.Fatalf("the marker after the pass: %v, %v", marker.Item, err)
	}
}
