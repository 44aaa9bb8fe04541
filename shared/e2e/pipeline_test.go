package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/devstack"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/tenant"
)

// A stream batch that keeps failing is never skipped silently: after its
// retries Lambda's on-failure destination (StreamDLQ) gets where it was, and
// the poller goes on with the next records.
func TestStreamBatchFailingPastRetriesGoesToDLQ(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	poison, healthy := newTenant(t, tenant.Enterprise), newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, poison, allPermissions...)
	createAsset(t, key, nil)

	src, err := stack.Template.StreamSource("StreamRouterFunction", stack.Resources)
	if err != nil {
		t.Fatal(err)
	}
	if src.OnFailure != stack.Resources["StreamDLQ"].URL || src.Retries != 10 {
		t.Fatalf("the template's event source: %+v", src)
	}
	src.Retries = 2 // keep the test short
	// Its own destination, so StreamDLQ stays empty for the burst test's check;
	// the router's role with the on-failure grant moved to that queue.
	q, err := sqs.NewFromConfig(stack.AWS).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("on-failure-" + poison)})
	if err != nil {
		t.Fatal(err)
	}
	policy := stack.Principals["StreamRouterFunction"].Policy
	policy.Statement = slices.Clone(policy.Statement)
	moved := false
	for i, s := range policy.Statement {
		if slices.Equal(s.Resource, []string{stack.Resources["StreamDLQ"].ARN}) {
			policy.Statement[i].Resource, moved = []string{"arn:aws:sqs:us-east-1:123456789012:on-failure-" + poison}, true
		}
	}
	if !moved {
		t.Fatal("the router's policy has no grant on its on-failure destination")
	}
	router, err := stack.NewPrincipal(ctx, "router-"+poison, policy)
	if err != nil {
		t.Fatal(err)
	}
	src.OnFailure = aws.ToString(q.QueueUrl)
	var handledHealthy, calls atomic.Int64
	failing := func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		calls.Add(1)
		for _, r := range ev.Records {
			pk := r.Change.Keys["PK"].String()
			if strings.HasPrefix(pk, keyschema.TenantPK(poison)+"#") {
				return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: r.Change.SequenceNumber}}}, nil
			}
			if strings.HasPrefix(pk, keyschema.TenantPK(healthy)+"#") {
				handledHealthy.Add(1)
			}
		}
		return events.DynamoDBEventResponse{}, nil
	}
	// A second consumer of the stream, with the router's own credentials.
	p, err := devstack.PollStream(ctx, router.AWS, src, failing)
	if err != nil {
		t.Fatal(err)
	}
	waitCtx, done := context.WithTimeout(ctx, 60*time.Second)
	defer done()
	if err := p.CaughtUp(waitCtx); err != nil {
		t.Fatal(err)
	}
	// The poller moved past the poison record: a later write is handled.
	other, _ := newKey(t, healthy, allPermissions...)
	createAsset(t, other, nil)
	waitFor(t, 30*time.Second, "the later record", func() bool { return handledHealthy.Load() >= 1 })

	var found bool
	waitFor(t, 30*time.Second, "the failure description in StreamDLQ", func() bool {
		out, err := sqs.NewFromConfig(stack.AWS).ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(src.OnFailure), MaxNumberOfMessages: 10, VisibilityTimeout: 0})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var body struct {
				RequestContext struct {
					Condition string `json:"condition"`
					Invokes   int    `json:"approximateInvokeCount"`
				} `json:"requestContext"`
				Info struct {
					StreamARN string `json:"streamArn"`
					Start     string `json:"startSequenceNumber"`
					Size      int    `json:"batchSize"`
				} `json:"DDBStreamBatchInfo"`
			}
			if json.Unmarshal([]byte(aws.ToString(m.Body)), &body) == nil && body.Info.StreamARN == src.StreamARN &&
				body.RequestContext.Condition == "RetryAttemptsExhausted" && body.RequestContext.Invokes == 3 && body.Info.Size >= 1 {
				found = true
			}
		}
		return found
	})
}

// A message whose delivery record does not exist is a fault: counted and
// logged with its ids, not dropped silently.
func TestMissingDeliveryRecordIsCounted(t *testing.T) {
	t.Parallel()
	before := stack.Dispatcher.Missing.Load()
	k := delivery.Key{TenantID: newTenant(t, tenant.Enterprise), DeliveryID: "msg_ghost", SK: "2026-11-22T08:00:00.000Z#msg_ghost", WebhookID: "wh_ghost"}
	body, _ := json.Marshal(k)
	if _, err := sqs.NewFromConfig(stack.AWS).SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(stack.Config.Dispatcher.DeliveryQueueURL), MessageBody: aws.String(string(body)), MessageGroupId: aws.String(k.TenantID)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the missing record to be counted", func() bool { return stack.Dispatcher.Missing.Load() > before })
}

// A retry due later than RETRY_HOLD_MAX leaves the in-flight set: the
// received message is let go and a delayed copy takes its place, which
// still makes the next attempt.
func TestLongRetryLeavesTheInFlightSet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	rv := newReceiver(t, func(n int) int {
		if n == 1 {
			return 503
		}
		return 200
	})
	whID, _ := createWebhook(t, tid, rv.URL, "asset.created")
	admin := adminAPI(t)
	hook, err := admin.Webhooks.Get(ctx, tid, whID)
	if err != nil {
		t.Fatal(err)
	}
	// Recorded but not queued: only this test's dispatcher sees the first attempt.
	k, _, err := admin.Enqueuer.Prepare(ctx, hook, delivery.Event{SourceID: "park-" + tid, Name: "asset.created", TenantID: tid, Time: "2026-11-22T08:00:00.000Z", Data: sampleAsset()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := stack.Config.Dispatcher
	cfg.RetryHoldMax, cfg.RetrySchedule = time.Second, []time.Duration{3 * time.Second}
	d, err := delivery.Build(ctx, cfg, stack.Principals["DispatcherFunction"].AWS)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := json.Marshal(k)
	resp, err := d.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "first", Body: string(msg), ReceiptHandle: "not-a-real-receipt"}}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("a parked retry must let the received message go: %+v %v", resp, err)
	}
	// The delayed copy reaches the running dispatcher, which makes attempt 2.
	rec := finalDelivery(t, tid, 30*time.Second)
	if rec.Status != delivery.Delivered || rec.Attempts != 2 || len(rv.requests()) != 2 {
		t.Fatalf("want delivered on attempt 2 through the parked copy: %+v, %d requests", rec, len(rv.requests()))
	}
}

// A webhook whose item cannot be opened (a damaged seal) holds back only
// deliveries still to send: a message for a finished delivery is let go, not
// returned to the queue until it reaches the dead-letter queue.
func TestUnreadableWebhookKeepsOnlyPendingDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	rv := newReceiver(t, nil)
	whID, _ := createWebhook(t, tid, rv.URL, "asset.created")
	admin := adminAPI(t)
	hook, err := admin.Webhooks.Get(ctx, tid, whID)
	if err != nil {
		t.Fatal(err)
	}
	prepare := func(source string) delivery.Key {
		k, _, err := admin.Enqueuer.Prepare(ctx, hook, delivery.Event{SourceID: source + tid, Name: "asset.created", TenantID: tid, Time: "2026-11-22T08:00:00.000Z", Data: sampleAsset()})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	pending, done := prepare("pending-"), prepare("done-")
	store := &delivery.Store{DB: stack.DB, Table: stack.IntegrationsTable, Shards: stack.Config.Dispatcher.DeliveryShards}
	if won, err := store.Claim(ctx, done, 1, time.Now(), time.Minute); err != nil || !won {
		t.Fatalf("claim: %v %v", won, err)
	}
	if err := store.Finish(ctx, done, delivery.Outcome{Attempt: delivery.Attempt{N: 1, At: "2026-11-22T08:00:01.000Z", StatusCode: 200}, Status: delivery.Delivered}); err != nil {
		t.Fatal(err)
	}
	if _, err := stack.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(stack.IntegrationsTable), Key: keyschema.Webhook(tid, whID).Attrs(),
		UpdateExpression:          aws.String("SET sealed = :x"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":x": &types.AttributeValueMemberS{Value: "v1.damaged"}},
	}); err != nil {
		t.Fatal(err)
	}
	handle := func(k delivery.Key) events.SQSEventResponse {
		msg, _ := json.Marshal(k)
		resp, err := stack.Dispatcher.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: k.DeliveryID, Body: string(msg), ReceiptHandle: "r"}}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := handle(done); len(resp.BatchItemFailures) != 0 {
		t.Errorf("a finished delivery's message was kept: %+v", resp)
	}
	if resp := handle(pending); len(resp.BatchItemFailures) != 1 {
		t.Errorf("a pending delivery's message was dropped though its webhook cannot be read: %+v", resp)
	}
	if len(rv.requests()) != 0 {
		t.Errorf("sent %d requests with an unreadable webhook", len(rv.requests()))
	}
}
