package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"

	"github.com/uniasset/integrations/shared/activity"
	"github.com/uniasset/integrations/shared/apilog"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/devstack"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
)

// activityRead seeds one API-log shard and one delivery shard of a tenant and
// times Activity Log pages as the log grows, counting the queries each makes.
func activityRead(doc *bytes.Buffer) error {
	ctx := context.Background()
	stack, stop, err := devstack.StartForTests(ctx, map[string]string{"API_LOG_SHARDS": "1", "DELIVERY_SHARDS": "1"})
	if err != nil {
		return err
	}
	defer stop()
	counter := &counting{API: stack.DB, calls: map[string]int{}}
	reader := &activity.Reader{DB: counter, Table: stack.IntegrationsTable, APILogShards: 1, DeliveryShards: 1}

	type sample struct {
		size           int
		first, deep    time.Duration
		bare           time.Duration // one plain Query of 100 items: moto's floor
		queriesPerPage float64
	}
	var samples []sample
	seeded := 0
	for _, size := range []int{1_000, 100_000} {
		if err := seedLogs(ctx, stack, "bench-activity", seeded, size); err != nil {
			return err
		}
		seeded = size
		// First page, then page 10 (reached by following cursors, not timed): the last page at 1,000 items.
		page := func(cursor string) (activity.Page, time.Duration, error) {
			t0 := time.Now()
			p, err := reader.List(ctx, activity.Query{TenantID: "bench-activity", Cursor: cursor})
			return p, time.Since(t0), err
		}
		var firsts []time.Duration
		counter.calls = map[string]int{}
		for range 5 {
			_, d, err := page("")
			if err != nil {
				return err
			}
			firsts = append(firsts, d)
		}
		queries := float64(counter.calls["Query"]) / 5
		var bares []time.Duration
		for range 5 {
			t0 := time.Now()
			_, err := stack.DB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(stack.IntegrationsTable),
				KeyConditionExpression:    aws.String("PK = :pk"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: keyschema.APILogPK("bench-activity", 0)}},
				ScanIndexForward:          aws.Bool(false), Limit: aws.Int32(100)})
			if err != nil {
				return err
			}
			bares = append(bares, time.Since(t0))
		}
		slices.Sort(bares)
		p, _, err := page("")
		if err != nil {
			return err
		}
		for range 8 {
			if p.NextCursor == nil {
				break
			}
			if p, _, err = page(*p.NextCursor); err != nil {
				return err
			}
		}
		if p.NextCursor == nil {
			return fmt.Errorf("log of %d ended before page 10", size)
		}
		_, deep, err := page(*p.NextCursor)
		if err != nil {
			return err
		}
		slices.Sort(firsts)
		samples = append(samples, sample{size: size, first: firsts[2], deep: deep, bare: bares[2], queriesPerPage: queries})
		fmt.Printf("  %d items per shard: first page %s, page 10 %s, %.0f queries, one bare query %s\n", size, firsts[2], deep, queries, bares[2])
	}
	fmt.Fprintf(doc, `
## Activity Log reads as the log grows

Method: one tenant's API call log and delivery log each seeded with the given number of items in
a single shard (moto cannot hold 8 shards × 100,000 items in a reasonable time; with the default
8 shards each of these sources is read with 8 queries instead of 1; the tenant's system log, one
unsharded partition, is read with one more). A page is up to 100 rows of each source (200 items
read; the system log is empty here); "first page" is the median of 5 reads of page 1, "page 10"
is one read after following 9 cursors. Queries are counted by a wrapper around the DynamoDB
client. "One bare Query" is the median of 5 plain Queries (Limit 100, newest first) on the same
partition: the floor moto sets for reading 100 items, with none of the reader's work.

| items per shard (each source) | queries per page | first page | page 10 | one bare Query |
|---:|---:|---:|---:|---:|
`)
	for _, s := range samples {
		fmt.Fprintf(doc, "| %d | %.0f | %s | %s | %s |\n", s.size, s.queriesPerPage, s.first.Round(time.Millisecond), s.deep.Round(time.Millisecond), s.bare.Round(time.Millisecond))
	}
	fmt.Fprintf(doc, `
A page costs one Query per shard per source, each bounded by `+"`Limit`"+`, whatever the log's size:
the count stays fixed. The time does not stay fixed under moto, because moto answers every Query by
walking every item in the table (moto/dynamodb/models/table.py, `+"`query`"+` loops over
`+"`all_items()`"+`) and sorting the matches. The reader costs about one bare Query per query it
makes — three on page 1, two on page 10, whose cursor already records that the (empty) system log
is exhausted — since moto, one Python process, answers concurrent queries about one at a time; so
the growth is moto's. DynamoDB reads only the items a Query returns, so there the page time stays
that of reading 200 items, and the queries overlap.
`)
	return nil
}

// seedLogs writes API call and delivery items numbered from..to, oldest first, with BatchWriteItem.
func seedLogs(ctx context.Context, stack *devstack.Stack, tenantID string, from, to int) error {
	base := time.Now().Add(-time.Duration(to) * time.Second)
	items := make(chan map[string]types.AttributeValue, 100)
	errc := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var batch []types.WriteRequest
			flush := func() error {
				for len(batch) > 0 {
					out, err := stack.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{stack.IntegrationsTable: batch}})
					if err != nil {
						return err
					}
					batch = out.UnprocessedItems[stack.IntegrationsTable]
				}
				return nil
			}
			// After a failure the worker keeps draining the channel so the
			// producer never blocks on a dead reader.
			var failed error
			for it := range items {
				if failed != nil {
					continue
				}
				batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
				if len(batch) == 25 {
					failed = flush()
				}
			}
			if failed == nil {
				failed = flush()
			}
			if failed != nil {
				errc <- failed
			}
		}()
	}
	for i := from; i < to; i++ {
		at := base.Add(time.Duration(i) * time.Second)
		id := strings.ToLower(ulid.MustNew(ulid.Timestamp(at), ulid.DefaultEntropy()).String())
		e := apilog.Entry{ID: id, TenantID: tenantID, Timestamp: isotime.Format(at), Method: "POST", Endpoint: "/api/integrations/assets/geo-position",
			Status: 200, APIKeyID: "key_bench", APIKeyName: "IoT fleet", SourceIP: "203.0.113.7", RequestID: id,
			RequestHeaders: map[string]string{"authorization": "[REDACTED]", "content-type": "application/json"},
			RequestBody:    `{"assetId":"asset_1","latitude":52.52,"longitude":13.405}`, ResponseBody: `{"assetId":"asset_1"}`}
		api, _ := attributevalue.MarshalMap(e)
		api["PK"] = &types.AttributeValueMemberS{Value: keyschema.APILogPK(tenantID, 0)}
		api[keyschema.ByResourcePK] = &types.AttributeValueMemberS{Value: keyschema.APIKeyCallsPK(tenantID, e.APIKeyID, 0)}
		api["SK"] = &types.AttributeValueMemberS{Value: id}
		items <- api
		d := delivery.Record{TenantID: tenantID, DeliveryID: "msg_" + id, WebhookID: "wh_bench", WebhookName: "ERP", Event: "geo_position.updated",
			Payload: `{"event":"geo_position.updated"}`, Status: delivery.Delivered, Attempts: 1, CreatedAt: isotime.Format(at), UpdatedAt: isotime.Format(at),
			History: []delivery.Attempt{{N: 1, At: isotime.Format(at), StatusCode: 200}}, SK: isotime.Format(at) + "#msg_" + id,
			ByResourcePK: keyschema.WebhookDeliveriesPK(tenantID, "wh_bench", 0)}
		web, _ := attributevalue.MarshalMap(d)
		web["PK"] = &types.AttributeValueMemberS{Value: keyschema.DeliveryPK(tenantID, 0)}
		items <- web
	}
	close(items)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}
