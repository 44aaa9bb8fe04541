package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/oklog/ulid/v2"

	"github.com/uniasset/integrations/shared/cost"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/retention"
	"github.com/uniasset/integrations/shared/webhook"
)

// sized is an item of IntegrationsTable padded to exactly size bytes.
func sized(pk, sk string, size int, extra map[string]types.AttributeValue) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{"PK": sv(pk), "SK": sv(sk), "body": sv("")}
	for k, v := range extra {
		item[k] = v
	}
	item["body"] = sv(strings.Repeat("x", size-cost.ItemSize(item)))
	return item
}

// The meter bills calls against moto as DynamoDB bills them: a write on
// the whole item (an update touching one small attribute of a 3 KB item is
// 3 units), index writes by the entry (a moved key is a delete and a put),
// a refused condition on the item as it is, transactions twice, reads per
// 4 KB of whole items (a projection does not make them cheaper), a Query
// on what it read before its filter, a BatchGetItem item by item.
func TestMeterBillsAsDynamoDB(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := &cost.Meter{}
	m.Peek(stack.DB)
	db := dynamodb.NewFromConfig(stack.AWS, m.Middleware)
	table := aws.String(stack.IntegrationsTable)
	pk := "COSTTEST#" + strings.ToLower(ulid.Make().String())
	step := func(name string, wantWRU, wantRRU, wantIndex float64, call func() error) {
		t.Helper()
		if err := call(); err != nil && wantWRU == 0 && wantRRU == 0 {
			t.Fatalf("%s: %v", name, err)
		}
		got := m.Take()
		if got.WRU != wantWRU || got.RRU != wantRRU || got.Index != wantIndex {
			t.Errorf("%s: %v WRU (%v index), %v RRU; want %v (%v), %v", name, got.WRU, got.Index, got.RRU, wantWRU, wantIndex, wantRRU)
		}
	}
	key := func(sk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"PK": sv(pk), "SK": sv(sk)}
	}
	put := func(item map[string]types.AttributeValue, cond string) func() error {
		return func() error {
			in := &dynamodb.PutItemInput{TableName: table, Item: item}
			if cond != "" {
				in.ConditionExpression = aws.String(cond)
			}
			_, err := db.PutItem(ctx, in)
			return err
		}
	}
	step("put 3,000 bytes", 3, 0, 0, put(sized(pk, "A", 3000, nil), ""))
	step("update one number of it", 3, 0, 0, func() error {
		_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: key("A"),
			UpdateExpression: aws.String("SET n = :one"), ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}}})
		return err
	})
	// ByResource (GSI1PK, SK; ALL): the entry is the whole item.
	step("put 1,500 bytes into the index", 4, 0, 2, put(sized(pk, "B", 1500, map[string]types.AttributeValue{"GSI1PK": sv("COSTIX#1")}), ""))
	step("move its index key", 6, 0, 4, func() error {
		_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: key("B"),
			UpdateExpression: aws.String("SET GSI1PK = :k"), ExpressionAttributeValues: map[string]types.AttributeValue{":k": sv("COSTIX#2")}})
		return err
	})
	step("refused by its condition", 3, 0, 0, put(sized(pk, "A", 500, nil), "attribute_not_exists(PK)"))
	step("a transaction: a new 500-byte item and a check of the 3 KB one", 2+6, 0, 0, func() error {
		_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: table, Item: sized(pk, "C", 500, nil)}},
			{ConditionCheck: &types.ConditionCheck{TableName: table, Key: key("A"), ConditionExpression: aws.String("attribute_exists(PK)")}},
		}})
		return err
	})
	step("consistent read of 3 KB", 0, 1, 0, func() error {
		_, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key("A"), ConsistentRead: aws.Bool(true)})
		return err
	})
	step("eventually consistent, one attribute", 0, 0.5, 0, func() error {
		_, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key("A"), ProjectionExpression: aws.String("n")})
		return err
	})
	step("put 5,000 bytes", 5, 0, 0, put(sized(pk, "D", 5000, nil), ""))
	step("projected read of 5 KB", 0, 2, 0, func() error {
		_, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key("D"), ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("n")})
		return err
	})
	// A, B, C, D: about 10 KB read, whatever the filter keeps.
	step("query with a filter", 0, 3, 0, func() error {
		out, err := db.Query(ctx, &dynamodb.QueryInput{TableName: table, ConsistentRead: aws.Bool(true),
			KeyConditionExpression: aws.String("PK = :pk"), FilterExpression: aws.String("n = :one"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": sv(pk), ":one": &types.AttributeValueMemberN{Value: "1"}}})
		if err == nil && (len(out.Items) != 1 || out.ScannedCount != 4) {
			t.Errorf("the filter kept %d of %d", len(out.Items), out.ScannedCount)
		}
		return err
	})
	step("batch get of 5 KB and a missing item", 0, 2+1, 0, func() error {
		_, err := db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			stack.IntegrationsTable: {Keys: []map[string]types.AttributeValue{key("D"), key("none")}, ConsistentRead: aws.Bool(true)}}})
		return err
	})
	step("delete the indexed item", 2+2, 0, 2, func() error {
		_, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: key("B")})
		return err
	})
}

// SQS requests are billed per 64 KB chunk of a request's payload: a
// 100 KB message is two requests to send and two to receive, a batch of
// three small ones one; an empty receive is an idle poller's, counted apart.
func TestQueuesBillAsSQS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := &cost.Queues{}
	c := sqs.NewFromConfig(stack.AWS, func(o *sqs.Options) { o.APIOptions = append(o.APIOptions, q.Add) })
	made, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("cost-" + strings.ToLower(ulid.Make().String()))})
	if err != nil {
		t.Fatal(err)
	}
	url := made.QueueUrl
	if r, _ := q.Take(); r != 1 {
		t.Fatalf("CreateQueue: %d requests, want 1", r)
	}
	step := func(name string, wantRequests, wantEmpty int, call func() error) {
		t.Helper()
		if err := call(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r, e := q.Take(); r != wantRequests || e != wantEmpty {
			t.Errorf("%s: %d requests, %d empty receives; want %d, %d", name, r, e, wantRequests, wantEmpty)
		}
	}
	step("an empty receive", 0, 1, func() error {
		_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url})
		return err
	})
	step("send 100 KB", 2, 0, func() error {
		_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String(strings.Repeat("m", 100*1024))})
		return err
	})
	var handle *string
	step("receive it", 2, 0, func() error {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, WaitTimeSeconds: 1})
		if err == nil && len(out.Messages) == 1 {
			handle = out.Messages[0].ReceiptHandle
		} else if err == nil {
			t.Fatalf("received %d messages", len(out.Messages))
		}
		return err
	})
	step("delete it", 1, 0, func() error {
		_, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: url, ReceiptHandle: handle})
		return err
	})
	step("a batch of three small messages", 1, 0, func() error {
		var es []sqstypes.SendMessageBatchRequestEntry
		for i := range 3 {
			es = append(es, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String("small")})
		}
		_, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: url, Entries: es})
		return err
	})
}

// DynamoDB bills each write per started kilobyte of the whole item, and
// again in the ByResource index (which projects every attribute). A
// delivery of a half-kilobyte event stays under a kilobyte through its
// create, its claim and a delivered attempt's outcome (its payload and the
// receiver's answer packed, shared/compact): one unit each in the table.
// It enters the index with its outcome, so only that write is also an
// index entry.
func TestADeliveryOfAHalfKilobyteEventBillsAUnitAWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := &cost.Meter{}
	m.Peek(stack.DB)
	db := dynamodb.NewFromConfig(stack.AWS, m.Middleware)
	now := time.Date(2026, 12, 6, 9, 14, 3, 512e6, time.UTC)
	q := &delivery.Enqueuer{Store: &delivery.Store{DB: db, Table: stack.IntegrationsTable, Shards: 8, Retention: retention.Policy{Days: 90}}, Now: func() time.Time { return now }}
	w := webhook.Webhook{TenantID: "7c9e6679-7425-40de-944b-" + strings.ToLower(ulid.Make().String())[:12], ID: "wh_01jexq8z5m3n2v7k9r4t6y8w0b", Name: "ERP sync (production)"}
	data := map[string]any{
		"assetId": "01JEXQ8Z5M3N2V7K9R4T6Y8W0B", "assetName": "Forklift 12 (north hall)", "categoryName": "Vehicles",
		"statusName": "In use", "externalId": "SAP-100045", "serialNumber": "FL-2019-88341",
		"description": "Electric forklift, 2.5 t, yearly inspection by the vendor", "warrantyExpiresAt": "2027-03-31T00:00:00.000Z",
		"createdAt": "2026-11-02T08:00:00.000Z", "updatedAt": "2026-12-06T09:14:03.512Z", "version": 7,
		"changedFields": []string{"statusName", "description"},
	}
	e := delivery.Event{SourceID: "4b25bd0da9a181a155114127e4837585", Name: "asset.updated", TenantID: w.TenantID, Time: isotime.Format(now), Data: data}
	if body, _ := e.Payload(); len(body) < 480 {
		t.Fatalf("the event is %d bytes, want about half a kilobyte", len(body))
	}
	bill := func(step string, wru, index float64) {
		t.Helper()
		if got := m.Take(); got.WRU != wru || got.Index != index {
			t.Errorf("its %s cost %v WRU (%v in the index), want %v (%v)", step, got.WRU, got.Index, wru, index)
		}
	}
	k, _, err := q.Prepare(ctx, w, e)
	if err != nil {
		t.Fatal(err)
	}
	bill("create", 1, 0)
	if won, err := q.Store.Claim(ctx, k, 1, now, 15*time.Second); err != nil || !won {
		t.Fatalf("claim: %v %v", won, err)
	}
	bill("claim", 1, 0)
	o := delivery.Outcome{Status: delivery.Delivered, ResponseBody: `{"received":true}`, Attempt: delivery.Attempt{N: 1, At: isotime.Format(now), StatusCode: 200, DurationMs: 143}}
	if err := q.Store.Finish(ctx, k, o); err != nil {
		t.Fatal(err)
	}
	bill("delivered attempt's outcome", 2, 1)
}
