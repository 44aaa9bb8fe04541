package devstack_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/uniasset/integrations/shared/dynamo/dynamotest"
)

// The two gaps infra/moto/server.py closes inside moto, each on a table of
// its own with a stream (the stack's admin credentials).

func newStreamTable(t *testing.T, ctx context.Context, db *dynamodb.Client) (name, streamARN string) {
	t.Helper()
	name = fmt.Sprintf("fidelity-%d", seq.Add(1))
	out, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("PK"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("SK"), KeyType: types.KeyTypeRange},
		},
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("PK"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("SK"), AttributeType: types.ScalarAttributeTypeS},
		},
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	})
	if err != nil {
		t.Fatal(err)
	}
	return name, aws.ToString(out.TableDescription.LatestStreamArn)
}

func streamRecords(t *testing.T, ctx context.Context, arn string) []streamtypes.Record {
	t.Helper()
	streams := dynamodbstreams.NewFromConfig(stack.AWS)
	d, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	var recs []streamtypes.Record
	for _, sh := range d.StreamDescription.Shards {
		it, err := streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn), ShardId: sh.ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		out, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(1000)})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, out.Records...)
	}
	return recs
}

func TestConcurrentWritesGetDistinctSequenceNumbers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dynamodb.NewFromConfig(stack.AWS)
	table, arn := newStreamTable(t, ctx, db)
	const writers, each = 8, 60
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
					"PK": &types.AttributeValueMemberS{Value: fmt.Sprintf("w%d", w)}, "SK": &types.AttributeValueMemberS{Value: fmt.Sprint(i)},
				}})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	recs := streamRecords(t, ctx, arn)
	seen := map[string]bool{}
	for _, r := range recs {
		s := aws.ToString(r.Dynamodb.SequenceNumber)
		if seen[s] {
			t.Errorf("sequence number %s given to two records", s)
		}
		seen[s] = true
	}
	if len(recs) != writers*each {
		t.Fatalf("stream has %d records for %d writes", len(recs), writers*each)
	}
}

func TestCancelledTransactionChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dynamodb.NewFromConfig(stack.AWS)
	table, arn := newStreamTable(t, ctx, db)
	key := func(pk, sk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}}
	}
	item := func(pk, sk, v string) map[string]types.AttributeValue {
		it := key(pk, sk)
		it["v"] = &types.AttributeValueMemberS{Value: v}
		return it
	}
	for _, it := range []map[string]types.AttributeValue{item("a", "1", "old"), item("a", "2", "old"), item("c", "1", "old")} {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	snapshot := func() []string {
		out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		var rows []string
		for _, it := range out.Items {
			v := "-"
			if s, ok := it["v"].(*types.AttributeValueMemberS); ok {
				v = s.Value
			}
			rows = append(rows, it["PK"].(*types.AttributeValueMemberS).Value+"/"+it["SK"].(*types.AttributeValueMemberS).Value+"="+v)
		}
		sort.Strings(rows)
		return rows
	}
	before, streamBefore := snapshot(), len(streamRecords(t, ctx, arn))

	// Each kind of write, to a new item, an existing one and a new range
	// under an existing partition, then a condition that fails last.
	_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(table), Item: item("b", "1", "new")}},
		{Put: &types.Put{TableName: aws.String(table), Item: item("a", "3", "new")}},
		{Update: &types.Update{TableName: aws.String(table), Key: key("a", "1"), UpdateExpression: aws.String("SET v = :v"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: "new"}}}},
		{Delete: &types.Delete{TableName: aws.String(table), Key: key("c", "1")}},
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String(table), Key: key("zz", "1"), ConditionExpression: aws.String("attribute_exists(PK)")}},
	}})
	var cancelled *types.TransactionCanceledException
	if !errors.As(err, &cancelled) {
		t.Fatalf("the transaction was not cancelled: %v", err)
	}
	if after := snapshot(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a cancelled transaction changed the table:\nbefore %v\nafter  %v", before, after)
	}
	if n := len(streamRecords(t, ctx, arn)); n != streamBefore {
		t.Errorf("a cancelled transaction left %d stream records", n-streamBefore)
	}

	// And one that commits writes all of it, each change once on the stream.
	_, err = db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(table), Item: item("b", "1", "new")}},
		{Delete: &types.Delete{TableName: aws.String(table), Key: key("c", "1")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(snapshot()), "[a/1=old a/2=old b/1=new]"; got != want {
		t.Errorf("after a committed transaction: %s, want %s", got, want)
	}
	if n := len(streamRecords(t, ctx, arn)); n != streamBefore+2 {
		t.Errorf("a committed transaction of 2 writes left %d stream records", n-streamBefore)
	}
}

// The unit tests' in-memory table keeps the same contract as moto for what
// it models (dynamotest.Contract runs on both).
func TestInMemoryTableKeepsMotosContract(t *testing.T) {
	t.Parallel()
	dynamotest.Contract(t, stack.DB, stack.IntegrationsTable, "contract-"+strconv.FormatInt(time.Now().UnixNano(), 36))
}
