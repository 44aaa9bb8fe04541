package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"

	"github.com/uniasset/integrations/shared/cost"
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
	m := &cost.Meter{Peek: stack.DB}
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
