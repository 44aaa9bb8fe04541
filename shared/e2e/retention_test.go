package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/uniasset/integrations/shared/apilog"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/retention"
	"github.com/uniasset/integrations/shared/tenant"
	"github.com/uniasset/integrations/shared/webhook"
)

// With RecordRetentionDays set, each kind of record the Activity Log shows
// — an API call row, a delivery record, a System entry — carries the
// table's TTL attribute (the one template.yaml enables) at its time plus
// the days, written by the function that writes it, under its own IAM. The
// local stack runs with the default (0), and its records carry none.
func TestRecordRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ttl, err := stack.DB.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(stack.IntegrationsTable)})
	if err != nil || ttl.TimeToLiveDescription == nil || aws.ToString(ttl.TimeToLiveDescription.AttributeName) != retention.Attribute {
		t.Fatalf("IntegrationsTable's TTL (made from template.yaml) is not on %q: %+v, %v", retention.Attribute, ttl, err)
	}
	tid := newTenant(t, tenant.Enterprise)
	keep := retention.Policy{Days: 30}
	db := func(fn string) *dynamodb.Client { return dynamodb.NewFromConfig(stack.Principals[fn].AWS) }
	expiry := func(what string, pk, sk string, want time.Time) {
		t.Helper()
		out, err := stack.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(stack.IntegrationsTable),
			Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}}})
		if err != nil || out.Item == nil {
			t.Fatalf("%s: %v (found %v)", what, err, out != nil && out.Item != nil)
		}
		var got struct {
			ExpiresAt int64 `dynamodbav:"expiresAt"`
		}
		if err := attributevalue.UnmarshalMap(out.Item, &got); err != nil {
			t.Fatal(err)
		}
		if w := want.Unix(); (want.IsZero() && got.ExpiresAt != 0) || (!want.IsZero() && (got.ExpiresAt < w-5 || got.ExpiresAt > w+5)) {
			t.Fatalf("%s: expiresAt %d, want about %d", what, got.ExpiresAt, w)
		}
	}
	// Each record's expiry is held to the time it was written, taken just
	// before the write: a slow stack between writes moves each on.
	in30 := func(at time.Time) time.Time { return at.Add(30 * 24 * time.Hour) }

	// An API call row, as IntegrationApiFunction writes it.
	at := time.Now()
	w := &apilog.Writer{DB: db("IntegrationApiFunction"), Table: stack.IntegrationsTable, Shards: 1, Retention: keep}
	if err := w.Write(ctx, apilog.Entry{TenantID: tid, APIKeyID: "key_1", Method: "POST", Endpoint: "/x", Status: 201}, at); err != nil {
		t.Fatal(err)
	}
	rows, err := stack.DB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(stack.IntegrationsTable),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: keyschema.APILogPK(tid, 0)}}})
	if err != nil || len(rows.Items) != 1 {
		t.Fatalf("API call rows: %v, %d", err, len(rows.Items))
	}
	expiry("an API call row", keyschema.APILogPK(tid, 0), str(rows.Items[0]["SK"]), in30(at))

	// A delivery record, as StreamRouterFunction writes it.
	hook := webhook.Webhook{TenantID: tid, ID: webhook.NewID(), Name: "sink", Status: webhook.Active}
	enq := delivery.NewEnqueuer(db("StreamRouterFunction"), sqs.NewFromConfig(stack.Principals["StreamRouterFunction"].AWS),
		stack.IntegrationsTable, stack.Config.StreamRouter.DeliveryShards, stack.Config.StreamRouter.DeliveryQueueURL, keep)
	prepared := time.Now()
	k, _, err := enq.Prepare(ctx, hook, delivery.Event{SourceID: "ev_retention", Name: "asset.created", TenantID: tid, Time: isotime.Format(at), Data: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	expiry("a delivery record", keyschema.DeliveryPK(tid, delivery.Shard(k.DeliveryID, stack.Config.StreamRouter.DeliveryShards)), k.SK, in30(prepared))

	// A System entry, as DispatcherFunction writes one when a webhook starts failing.
	hooks := &webhook.Store{DB: db("DispatcherFunction"), Table: stack.IntegrationsTable, Retention: keep}
	hookID, _ := createWebhook(t, tid, "http://127.0.0.1:9/x", "asset.created")
	failedAt := time.Now()
	if err := hooks.RecordOutcome(ctx, webhook.Webhook{TenantID: tid, ID: hookID, Name: "ERP sink"}, webhook.OutcomeFailed, failedAt, "test"); err != nil {
		t.Fatal(err)
	}
	sys, err := stack.DB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(stack.IntegrationsTable),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: keyschema.SystemPK(tid)}}})
	if err != nil || len(sys.Items) != 1 {
		t.Fatalf("System entries: %v, %d", err, len(sys.Items))
	}
	expiry("a System entry", keyschema.SystemPK(tid), str(sys.Items[0]["SK"]), in30(failedAt))

	// The stack's own records (retention 0) carry none: the router's
	// delivery of an asset to the webhook above.
	key, _ := newKey(t, tid, "asset:create")
	createAsset(t, key, nil)
	var routed []delivery.Record
	waitFor(t, 15*time.Second, "the routed delivery", func() bool {
		routed = nil
		for _, d := range allDeliveries(t, tid) {
			if d.DeliveryID != k.DeliveryID {
				routed = append(routed, d)
			}
		}
		return len(routed) == 1
	})
	if routed[0].ExpiresAt != 0 {
		t.Fatalf("a delivery of the stack (retention 0) expires at %d", routed[0].ExpiresAt)
	}
}
