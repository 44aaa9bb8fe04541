// Package shardmark keeps the highest shard counts the write-sharded logs
// (delivery records, API call rows) were ever written with. A deploy may
// lower DeliveryShards or ApiLogShards: writers then use fewer shards, but
// rows already written stay where they are, so readers read up to the mark,
// not the setting, and no row is hidden. Each writing function raises the
// mark to its setting when it starts (one conditional write per cold
// start); readers read it with each listing.
package shardmark

import (
	"context"
	"log/slog"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/keyschema"
)

// The logs, by the mark's attribute names.
const (
	Deliveries = "deliveryShards"
	APILog     = "apiLogShards"
)

// Store keeps the mark in IntegrationsTable (keyschema.ShardMark).
type Store struct {
	DB    dynamo.API
	Table string
}

// Raise sets log's mark to n unless it is that high already.
func (s Store) Raise(ctx context.Context, log string, n int) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: keyschema.ShardMark().Attrs(),
		UpdateExpression:          aws.String("SET #n = :n"),
		ConditionExpression:       aws.String("attribute_not_exists(#n) OR #n < :n"),
		ExpressionAttributeNames:  map[string]string{"#n": log},
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberN{Value: strconv.Itoa(n)}},
	})
	if dynamo.ConditionFailed(err) {
		return nil
	}
	return dynamo.Translate("raise shard mark", err)
}

// RaiseAtStart raises the mark at a function's cold start; a failure is
// logged, not fatal: the next cold start tries again, and until then a
// lowered setting only hides rows from a reader, never loses them.
func (s Store) RaiseAtStart(ctx context.Context, log string, n int) {
	if err := s.Raise(ctx, log, n); err != nil {
		slog.Warn("raising the shard mark failed", "log", log, "shards", n, "error", err.Error())
	}
}

// Marks are the stored marks, by log.
type Marks map[string]int

// Read reads the marks (none if unreadable: a reader then still reads what
// its settings say), one GetItem for every log.
func (s Store) Read(ctx context.Context) Marks {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: keyschema.ShardMark().Attrs()})
	m := Marks{}
	if err != nil || out.Item == nil {
		return m
	}
	for _, log := range []string{Deliveries, APILog} {
		if v, ok := out.Item[log].(*types.AttributeValueMemberN); ok {
			m[log], _ = strconv.Atoi(v.Value)
		}
	}
	return m
}

// Shards is how many shards of log a reader reads: the mark, or the
// setting if that is higher.
func (m Marks) Shards(log string, configured int) int { return max(configured, m[log], 1) }
