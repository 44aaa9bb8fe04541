package alert

import (
	"context"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/parallel"
)

// Index is the due-date index in IntegrationsTable: one entry per watched
// date, in the partition of its group, its day and a write shard
// (keyschema.DuePK), sorted by the date. It is built from AssetsTable's
// stream, so every writer's items are indexed (the main app's too) and a
// pass reads what falls due in a stretch of dates without a Scan; the shards
// keep one day's dates (a migration setting every warranty to 1 January) off
// a single partition.
type Index struct {
	DB     dynamo.API
	Table  string
	Shards int // IndexShards, except in tests
}

// IndexShards is how many write shards each day of each group has. The
// stream and the passes must agree on it, and changing it moves entries, so
// it is a constant rather than a setting.
const IndexShards = 8

// dayOf is the UTC day of an isotime date.
func dayOf(at string) string { return at[:len("2006-01-02")] }

func (x *Index) shard(e Entry) int { return keyschema.Shard(e.ID(), x.Shards) }

func (x *Index) key(e Entry) keyschema.Key {
	return keyschema.Key{PK: keyschema.DuePK(string(e.Kind.Group()), dayOf(e.DueAt), x.shard(e)), SK: keyschema.DueSK(e.DueAt, e.ItemPK, e.ItemSK)}
}

// Changes are the entries one change of an item removes and adds: a moved
// date is one of each, so its alerts are re-armed for the new date.
func Changes(old, cur []Entry) (removed, added []Entry) {
	for _, e := range old {
		if !slices.Contains(cur, e) {
			removed = append(removed, e)
		}
	}
	for _, e := range cur {
		if !slices.Contains(old, e) {
			added = append(added, e)
		}
	}
	return removed, added
}

// Apply removes and adds entries, the added ones indexed at now (set on
// them). Both are idempotent (a replayed stream batch writes the same keys
// again).
func (x *Index) Apply(ctx context.Context, removed, added []Entry, now time.Time) error {
	for _, e := range removed {
		_, err := x.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(x.Table), Key: x.key(e).Attrs()})
		if err != nil {
			return dynamo.Translate("unindex date", err)
		}
	}
	for i := range added {
		added[i].IndexedAt = isotime.Format(now)
		item, err := x.Item(added[i])
		if err != nil {
			return err
		}
		if _, err := x.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(x.Table), Item: item}); err != nil {
			return dynamo.Translate("index date", err)
		}
	}
	return nil
}

// AddNew indexes e unless its entry is stored already (the stream indexed
// it, perhaps with an earlier IndexedAt that must stand), and reports
// whether it added it.
func (x *Index) AddNew(ctx context.Context, e Entry) (bool, error) {
	item, err := x.Item(e)
	if err != nil {
		return false, err
	}
	_, err = x.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(x.Table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")})
	if dynamo.ConditionFailed(err) {
		return false, nil
	}
	return err == nil, dynamo.Translate("index date", err)
}

// Item is e's stored entry, keyed in its day's shard.
func (x *Index) Item(e Entry) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMap(e)
	if err != nil {
		return nil, err
	}
	for k, v := range x.key(e).Attrs() {
		item[k] = v
	}
	item[keyschema.ByResourcePK] = &types.AttributeValueMemberS{Value: keyschema.TenantDuePK(e.TenantID, string(e.Kind.Group()), x.shard(e))}
	return item, nil
}

// Between reads the entries of group g with a date in (w.From, w.To], every
// day and shard of it. The partitions are read concurrently (at most
// betweenConcurrency at once), so a pass waits for the slowest, not the sum.
func (x *Index) Between(ctx context.Context, w Window) ([]Entry, error) {
	var ins []*dynamodb.QueryInput
	for _, day := range w.Days() {
		for shard := range max(x.Shards, 1) {
			ins = append(ins, x.dates(w, "PK", keyschema.DuePK(string(w.Group), day, shard)))
		}
	}
	return x.queryAll(ctx, ins)
}

// TenantBetween reads one tenant's entries of group g with a date in
// (w.From, w.To], however many days that spans: one query per shard of the
// tenant's partitions of the ByResource index. A catch-up uses it, so it
// reads only its own tenant's dates. The index is eventually consistent: an
// entry written a moment ago may be missing, which the stream's own arming
// (with the lead times it reads then) covers.
func (x *Index) TenantBetween(ctx context.Context, tenantID string, w Window) ([]Entry, error) {
	var ins []*dynamodb.QueryInput
	for shard := range max(x.Shards, 1) {
		in := x.dates(w, keyschema.ByResourcePK, keyschema.TenantDuePK(tenantID, string(w.Group), shard))
		in.IndexName, in.ConsistentRead = aws.String(keyschema.ByResource), nil
		ins = append(ins, in)
	}
	return x.queryAll(ctx, ins)
}

// betweenConcurrency bounds the queries one read has in flight.
const betweenConcurrency = 8

// dates is the query of one partition's entries with a date in w's
// (From, To]: a date equal to From sorts as From#…, below From$; one equal
// to To sorts below To$.
func (x *Index) dates(w Window, key, pk string) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		TableName:              aws.String(x.Table),
		KeyConditionExpression: aws.String(key + " = :pk AND SK BETWEEN :lo AND :hi"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk},
			":lo": &types.AttributeValueMemberS{Value: isotime.Format(w.From) + "$"},
			":hi": &types.AttributeValueMemberS{Value: isotime.Format(w.To) + "$"},
		},
		ConsistentRead: aws.Bool(true),
	}
}

// queryAll runs the queries, betweenConcurrency at once, and joins their entries.
func (x *Index) queryAll(ctx context.Context, ins []*dynamodb.QueryInput) ([]Entry, error) {
	results := make([][]Entry, len(ins))
	err := parallel.Each(ctx, len(ins), betweenConcurrency, func(ctx context.Context, i int) (err error) {
		results[i], err = x.query(ctx, ins[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	return slices.Concat(results...), nil
}

// query reads every page of a query of entries.
func (x *Index) query(ctx context.Context, in *dynamodb.QueryInput) ([]Entry, error) {
	return queryDecoded[Entry](ctx, x.DB, in, "read due dates", "a due-date index entry")
}
