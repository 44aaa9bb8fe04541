package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/big"
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

	"github.com/uniasset/integrations/shared/dynamo"
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

// A cancelled transaction takes back only its own stream records. The local
// stack runs transactions alone, but a request whose caller gave up runs on
// in moto; should a write overlap a transaction that way, its stream record
// (the one the stream router would index) must outlive the rollback. The
// client here bypasses the stack's locks to make such overlaps: writers put
// items while large transactions fail, over and over, and every put must be
// on the stream once, numbered without gaps or repeats.
func TestCancelledTransactionKeepsOverlappingWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	raw := stack.AWS.Copy()
	raw.APIOptions = nil // no isolation: requests overlap in moto as they would after a caller gave up
	db := dynamodb.NewFromConfig(raw)
	table, arn := newStreamTable(t, ctx, db)
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	const writers, each, transactions = 3, 40, 12
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{"PK": s(fmt.Sprintf("w%d", w)), "SK": s(fmt.Sprint(i))}}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for n := range transactions {
			var items []types.TransactWriteItem
			for i := range 99 {
				items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(table), Item: map[string]types.AttributeValue{"PK": s(fmt.Sprintf("tx%d", n)), "SK": s(fmt.Sprint(i))}}})
			}
			items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(table),
				Key: map[string]types.AttributeValue{"PK": s("absent"), "SK": s("0")}, ConditionExpression: aws.String("attribute_exists(PK)")}})
			_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
			var cancelled *types.TransactionCanceledException
			if !errors.As(err, &cancelled) {
				errs <- fmt.Errorf("transaction %d was not cancelled: %v", n, err)
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	recs := streamRecords(t, ctx, arn)
	puts := map[string]int{}
	for i, r := range recs {
		pk := r.Dynamodb.Keys["PK"].(*streamtypes.AttributeValueMemberS).Value
		sk := r.Dynamodb.Keys["SK"].(*streamtypes.AttributeValueMemberS).Value
		puts[pk+"/"+sk]++
		if i > 0 {
			// Numbers beyond int64, as DynamoDB's are.
			prev, _ := new(big.Int).SetString(aws.ToString(recs[i-1].Dynamodb.SequenceNumber), 10)
			cur, _ := new(big.Int).SetString(aws.ToString(r.Dynamodb.SequenceNumber), 10)
			if cur == nil || prev == nil || new(big.Int).Sub(cur, prev).Cmp(big.NewInt(1)) != 0 {
				t.Errorf("record %d is numbered %v after %v", i, cur, prev)
			}
		}
	}
	var missing []string
	for w := range writers {
		for i := range each {
			if k := fmt.Sprintf("w%d/%d", w, i); puts[k] != 1 {
				missing = append(missing, fmt.Sprintf("%s x%d", k, puts[k]))
			}
		}
	}
	if len(missing) > 0 || len(recs) != writers*each {
		t.Fatalf("%d stream records for %d puts; not once on the stream: %v", len(recs), writers*each, missing)
	}
}

// A Query (moto walks the whole table for one) and a Scan meet writes that
// add partitions meanwhile without failing: moto's walk of its dict broke
// off with a 500 when a write grew it. The client makes one attempt, so a
// 500 is seen rather than retried away.
func TestReadsDuringWritesDoNotFail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dynamodb.NewFromConfig(stack.AWS, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	table, _ := newStreamTable(t, ctx, db)
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	const writers, each, reads = 3, 150, 150
	var wg sync.WaitGroup
	errs := make(chan error, writers+2)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{"PK": s(fmt.Sprintf("w%d-%d", w, i)), "SK": s("0")}}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range reads {
			if _, err := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(table), KeyConditionExpression: aws.String("PK = :pk"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("w0-0")}}); err != nil {
				errs <- fmt.Errorf("query: %w", err)
				return
			}
		}
	})
	wg.Go(func() {
		for range reads / 3 {
			if _, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)}); err != nil {
				errs <- fmt.Errorf("scan: %w", err)
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// The unit tests' in-memory table keeps the same contract as moto for what
// it models (dynamotest.Contract runs on both).
func TestInMemoryTableKeepsMotosContract(t *testing.T) {
	t.Parallel()
	dynamotest.Contract(t, stack.DB, stack.IntegrationsTable, "contract-"+strconv.FormatInt(time.Now().UnixNano(), 36))
}

// A transaction sent again with its ClientRequestToken (the SDK fills one
// in per call and resends it with each retry) is not applied again, as on
// DynamoDB: a create whose answer was lost and that the SDK retried
// succeeds, where moto applied it twice and its own put refused itself.
// The same token with other items is refused.
func TestRetriedTransactionIsNotAppliedAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dynamodb.NewFromConfig(stack.AWS)
	table, arn := newStreamTable(t, ctx, db)
	put := func(token, sk string) error {
		_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{ClientRequestToken: aws.String(token), TransactItems: []types.TransactWriteItem{{Put: &types.Put{
			TableName: aws.String(table), ConditionExpression: aws.String("attribute_not_exists(PK)"),
			Item: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "p"}, "SK": &types.AttributeValueMemberS{Value: sk}},
		}}}})
		return err
	}
	token := fmt.Sprintf("retry-%d", seq.Add(1))
	for try := range 2 {
		if err := put(token, "created-once"); err != nil {
			t.Fatalf("try %d: %v", try, err)
		}
	}
	if n := len(streamRecords(t, ctx, arn)); n != 1 {
		t.Fatalf("the transaction was applied %d times", n)
	}
	var mismatch *types.IdempotentParameterMismatchException
	if err := put(token, "another"); !errors.As(err, &mismatch) {
		t.Fatalf("the same token with other items: %v", err)
	}
	if err := put(fmt.Sprintf("retry-%d", seq.Add(1)), "created-once"); !dynamo.ConditionFailed(err) {
		t.Fatalf("a new call putting the item again must be refused: %v", err)
	}
}
