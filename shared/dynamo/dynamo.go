// Package dynamo holds the DynamoDB boundary helpers every store uses: the
// client interface they depend on and the translation of SDK errors.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/keyschema"
)

// API is the subset of *dynamodb.Client the stores call; tests may count calls through it.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// ConditionFailed reports whether a write was refused by its condition expression,
// alone or as the reason a transaction was cancelled.
func ConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return true
	}
	return cancelledFor(err, "ConditionalCheckFailed")
}

// Refused reports whether err is a single write's refused condition, with
// the item as it stood when the write asked for it
// (ReturnValuesOnConditionCheckFailure ALL_OLD; nil when it did not, or
// when there was no item).
func Refused(err error) (item map[string]types.AttributeValue, ok bool) {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return nil, false
	}
	return ccf.Item, true
}

// cancelledFor reports whether err is a cancelled transaction with an item
// cancelled for reason code.
func cancelledFor(err error, code string) bool {
	var tce *types.TransactionCanceledException
	return errors.As(err, &tce) && slices.ContainsFunc(tce.CancellationReasons, func(r types.CancellationReason) bool {
		return aws.ToString(r.Code) == code
	})
}

// Conflicted reports whether a write lost to a concurrent transaction on
// the same item (DynamoDB cancels it with reason TransactionConflict, or
// answers TransactionConflictException to a plain write): nothing was
// written, and trying again is right.
func Conflicted(err error) bool {
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return cancelledFor(err, "TransactionConflict")
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "TransactionConflictException" || ae.ErrorCode() == "TransactionInProgressException")
}

// CancelledAt reports which items of a cancelled transaction failed their condition.
func CancelledAt(err error) []bool {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil
	}
	out := make([]bool, len(tce.CancellationReasons))
	for i, r := range tce.CancellationReasons {
		out[i] = r.Code != nil && *r.Code == "ConditionalCheckFailed"
	}
	return out
}

// Translate turns an SDK error into what the API layer understands: throttling
// (after the SDK's own retries) becomes THROTTLED; anything else stays internal.
func Translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded":
			return throttled()
		}
	}
	// A transaction cancelled because an item's partition was throttled.
	if cancelledFor(err, "ThrottlingError") || cancelledFor(err, "ProvisionedThroughputExceeded") {
		return throttled()
	}
	if Conflicted(err) { // still losing after the caller's own retries
		return apierror.New(apierror.Throttled, "a concurrent change to the same data won; retry shortly")
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Read is one item of a batched read: where it is, and what its store does
// with it when it exists. Each store builds the Reads of its own items, so a
// caller can batch two stores' items in one call while raw items stay in the
// package that knows their shape.
type Read struct {
	Table string
	Key   map[string]types.AttributeValue
	Found func(item map[string]types.AttributeValue) error // not called when the item does not exist
}

// batchTries bounds the rounds spent on keys DynamoDB leaves unprocessed
// (it does under throttling) before the read is answered THROTTLED.
const batchTries = 5

// GetTogether reads items (up to 100, each once) with one consistent
// BatchGetItem, asking again, after a short wait, for keys DynamoDB left
// unprocessed (it does under throttling).
func GetTogether(ctx context.Context, db API, op string, reads ...Read) error {
	in := &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{}}
	byKey := map[string]Read{}
	keyNames := map[string][]map[string]types.AttributeValue{} // per table, one key of each attribute-name set
	for _, r := range reads {
		k, ok := keyString(r.Table, r.Key, r.Key)
		if _, dup := byKey[k]; !ok || dup {
			return fmt.Errorf("%s: a batched read needs distinct keys of string attributes", op)
		}
		byKey[k] = r
		if !slices.ContainsFunc(keyNames[r.Table], func(x map[string]types.AttributeValue) bool { return sameNames(x, r.Key) }) {
			keyNames[r.Table] = append(keyNames[r.Table], r.Key)
		}
		ka := in.RequestItems[r.Table]
		ka.Keys, ka.ConsistentRead = append(ka.Keys, r.Key), aws.Bool(true)
		in.RequestItems[r.Table] = ka
	}
	for try := 0; len(in.RequestItems) > 0; try++ {
		if try == batchTries {
			return throttled()
		}
		if try > 0 {
			BackOff(ctx, try)
		}
		out, err := db.BatchGetItem(ctx, in)
		if err != nil {
			return Translate(op, err)
		}
		for table, items := range out.Responses {
			for _, item := range items {
				for _, names := range keyNames[table] {
					k, _ := keyString(table, names, item)
					if r, ok := byKey[k]; ok {
						if err := r.Found(item); err != nil {
							return fmt.Errorf("%s: %w", op, err)
						}
						break
					}
				}
			}
		}
		in.RequestItems = out.UnprocessedKeys
	}
	return nil
}

// BackOff waits 10–20 ms, 20–40 ms, 40–80 ms… (with jitter) before try n,
// or until ctx ends: what a request that lost a race to a concurrent write
// does before trying again, so the racers spread out.
func BackOff(ctx context.Context, n int) {
	d := time.Duration(10<<n) * time.Millisecond
	d += time.Duration(rand.Int64N(int64(d)))
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// sameNames reports whether two keys have the same attribute names.
func sameNames(a, b map[string]types.AttributeValue) bool {
	if len(a) != len(b) {
		return false
	}
	for n := range a {
		if _, ok := b[n]; !ok {
			return false
		}
	}
	return true
}

// keyString spells table and item's values of key's attribute names; false
// if one is not a string.
func keyString(table string, key, item map[string]types.AttributeValue) (string, bool) {
	b := strings.Builder{}
	b.WriteString(table)
	for _, n := range slices.Sorted(maps.Keys(key)) {
		v, ok := item[n].(*types.AttributeValueMemberS)
		if !ok {
			return "", false
		}
		b.WriteString("\x00" + n + "=" + v.Value)
	}
	return b.String(), true
}

func throttled() error { return apierror.New(apierror.Throttled, "the service is busy; retry shortly") }

// ListPrefix reads every item of partition pk whose sort key starts with
// prefix ("" for the whole partition), in sort key order (consistent, every
// page), as values of T.
func ListPrefix[T any](ctx context.Context, db API, op, table, pk, prefix string) ([]T, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		ConsistentRead:            aws.Bool(true),
	}
	if prefix != "" {
		in.KeyConditionExpression = aws.String("PK = :pk AND begins_with(SK, :sk)")
		in.ExpressionAttributeValues[":sk"] = &types.AttributeValueMemberS{Value: prefix}
	}
	p := dynamodb.NewQueryPaginator(db, in)
	var out []T
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, Translate(op, err)
		}
		var batch []T
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &batch); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, batch...)
	}
	return out, nil
}

// ShardQuery reads the newest items of a write-sharded log.
type ShardQuery struct {
	Table  string
	Index  string   // "" for the table; else a GSI keyed by KeyAttr and SK
	PKs    []string // one partition per shard
	Before string   // only items whose SK sorts before this ("" = from the newest)
	Limit  int
}

// ShardPKs lists the partition keys of a log written across shards (at least one).
func ShardPKs(shards int, pk func(shard int) string) []string {
	out := make([]string, max(shards, 1))
	for i := range out {
		out[i] = pk(i)
	}
	return out
}

// NewestAcrossShards runs one Query per shard, each newest-first and capped at
// Limit, and merges them newest first: a fixed number of queries whatever the
// log's size. The shards are read concurrently, so a page waits for the
// slowest shard rather than for the sum of them.
func NewestAcrossShards(ctx context.Context, db API, q ShardQuery) ([]map[string]types.AttributeValue, error) {
	key := "PK"
	if q.Index != "" {
		key = keyschema.ByResourcePK
	}
	results := make([][]map[string]types.AttributeValue, len(q.PKs))
	errs := make([]error, len(q.PKs))
	var wg sync.WaitGroup
	for i, pk := range q.PKs {
		in := &dynamodb.QueryInput{
			TableName:                 aws.String(q.Table),
			KeyConditionExpression:    aws.String(key + " = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
			ScanIndexForward:          aws.Bool(false),
			Limit:                     aws.Int32(int32(q.Limit)),
		}
		if q.Index != "" {
			in.IndexName = aws.String(q.Index)
		} else {
			in.ConsistentRead = aws.Bool(true)
		}
		if q.Before != "" {
			in.KeyConditionExpression = aws.String(key + " = :pk AND SK < :before")
			in.ExpressionAttributeValues[":before"] = &types.AttributeValueMemberS{Value: q.Before}
		}
		wg.Go(func() {
			out, err := db.Query(ctx, in)
			if err != nil {
				errs[i] = Translate("read shard", err)
				return
			}
			results[i] = out.Items
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	all := slices.Concat(results...)
	slices.SortFunc(all, func(a, b map[string]types.AttributeValue) int { return strings.Compare(SK(b), SK(a)) })
	return all[:min(q.Limit, len(all))], nil
}

// SK returns an item's sort key.
func SK(item map[string]types.AttributeValue) string {
	s, _ := item["SK"].(*types.AttributeValueMemberS)
	if s == nil {
		return ""
	}
	return s.Value
}
