package dynamotest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/keyschema"
)

// Contract checks that db behaves as DynamoDB does for everything Table
// models, in table (keyed PK/SK, with the ByResource index), under partition
// keys starting with prefix. The unit tests run it on Table, the local
// stack's tests on moto: one suite, both implementations.
func Contract(t *testing.T, db dynamo.API, table, prefix string) {
	ctx := context.Background()
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	pk, other := prefix+"#P", prefix+"#Q"
	put := func(p, sk string, extra item, cond string) error {
		it := item{"PK": s(p), "SK": s(sk)}
		for k, v := range extra {
			it[k] = v
		}
		in := &dynamodb.PutItemInput{TableName: aws.String(table), Item: it}
		if cond != "" {
			in.ConditionExpression = aws.String(cond)
		}
		_, err := db.PutItem(ctx, in)
		return err
	}
	sks := func(items []map[string]types.AttributeValue) []string {
		var out []string
		for _, it := range items {
			out = append(out, dynamo.SK(it))
		}
		return out
	}
	for _, sk := range []string{"A#3", "A#1", "B#1", "A#2", "C#1"} {
		if err := put(pk, sk, item{keyschema.ByResourcePK: s(prefix + "#R"), "n": s(sk)}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := put(other, "A#9", nil, ""); err != nil {
		t.Fatal(err)
	}

	t.Run("create-only put", func(t *testing.T) {
		if err := put(other, "C#1", nil, "attribute_not_exists(PK)"); err != nil {
			t.Fatal(err)
		}
		err := put(other, "C#1", nil, "attribute_not_exists(PK)")
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) || !dynamo.ConditionFailed(err) {
			t.Fatalf("second create-only put: %v", err)
		}
	})
	t.Run("put if an attribute equals a value", func(t *testing.T) {
		n := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
		rev := func(p, sk string, want, next string) error {
			in := &dynamodb.PutItemInput{TableName: aws.String(table), Item: item{"PK": s(p), "SK": s(sk), "revision": n(next)},
				ConditionExpression: aws.String("revision = :was"), ExpressionAttributeValues: item{":was": n(want)}}
			_, err := db.PutItem(ctx, in)
			return err
		}
		if err := rev(other, "R#1", "1", "2"); !dynamo.ConditionFailed(err) {
			t.Fatalf("a missing item passed the check: %v", err)
		}
		if err := put(other, "R#1", item{"revision": n("1")}, ""); err != nil {
			t.Fatal(err)
		}
		if err := rev(other, "R#1", "1", "2"); err != nil {
			t.Fatalf("the right revision failed: %v", err)
		}
		if err := rev(other, "R#1", "1", "3"); !dynamo.ConditionFailed(err) {
			t.Fatalf("a stale revision passed: %v", err)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if err := put(other, "D#1", nil, ""); err != nil {
			t.Fatal(err)
		}
		for range 2 { // deleting what is gone is no error
			if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: item{"PK": s(other), "SK": s("D#1")}}); err != nil {
				t.Fatal(err)
			}
		}
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: item{"PK": s(other), "SK": s("D#1")}, ConsistentRead: aws.Bool(true)})
		if err != nil || out.Item != nil {
			t.Fatalf("deleted item: %v %v", out.Item, err)
		}
	})
	t.Run("batch write", func(t *testing.T) {
		if err := put(other, "W#gone", nil, ""); err != nil {
			t.Fatal(err)
		}
		var writes []types.WriteRequest
		for _, sk := range []string{"W#1", "W#2"} {
			writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: item{"PK": s(other), "SK": s(sk), "n": s(sk)}}})
		}
		writes = append(writes, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: item{"PK": s(other), "SK": s("W#gone")}}})
		out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: writes}})
		if err != nil || len(out.UnprocessedItems) != 0 {
			t.Fatalf("batch write: %v %v", out, err)
		}
		for sk, want := range map[string]bool{"W#1": true, "W#2": true, "W#gone": false} {
			got, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: item{"PK": s(other), "SK": s(sk)}, ConsistentRead: aws.Bool(true)})
			if err != nil || (got.Item != nil) != want {
				t.Fatalf("after the batch, %s present %v (want %v): %v", sk, got.Item != nil, want, err)
			}
		}
		// (DynamoDB refuses more than 25 writes in a batch; Table does too,
		// but moto takes them, so the limit is not part of the contract.)
	})
	t.Run("get", func(t *testing.T) {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: item{"PK": s(pk), "SK": s("A#2")}, ConsistentRead: aws.Bool(true)})
		if err != nil || out.Item["n"].(*types.AttributeValueMemberS).Value != "A#2" {
			t.Fatalf("%v %v", out, err)
		}
		out, err = db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: item{"PK": s(pk), "SK": s("none")}, ConsistentRead: aws.Bool(true)})
		if err != nil || out.Item != nil {
			t.Fatalf("missing item: %v %v", out.Item, err)
		}
	})
	t.Run("batch get", func(t *testing.T) {
		var got []string
		err := dynamo.GetTogether(ctx, db, "contract",
			dynamo.Read{Table: table, Key: item{"PK": s(pk), "SK": s("B#1")}, Found: func(it map[string]types.AttributeValue) error { got = append(got, dynamo.SK(it)); return nil }},
			dynamo.Read{Table: table, Key: item{"PK": s(pk), "SK": s("none")}, Found: func(map[string]types.AttributeValue) error { got = append(got, "none"); return nil }},
			dynamo.Read{Table: table, Key: item{"PK": s(other), "SK": s("A#9")}, Found: func(it map[string]types.AttributeValue) error { got = append(got, "other "+dynamo.SK(it)); return nil }},
		)
		slices.Sort(got)
		if err != nil || !slices.Equal(got, []string{"B#1", "other A#9"}) {
			t.Fatalf("%v %v", got, err)
		}
	})
	query := func(index, cond string, values item, forward bool, limit int32) []string {
		t.Helper()
		values[":pk"] = s(pk)
		in := &dynamodb.QueryInput{TableName: aws.String(table), KeyConditionExpression: aws.String(cond), ExpressionAttributeValues: values, ScanIndexForward: aws.Bool(forward)}
		if index != "" {
			in.IndexName, values[":pk"] = aws.String(index), s(prefix+"#R")
		} else {
			in.ConsistentRead = aws.Bool(true)
		}
		if limit > 0 {
			in.Limit = aws.Int32(limit)
		}
		out, err := db.Query(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return sks(out.Items)
	}
	t.Run("query", func(t *testing.T) {
		if got := query("", "PK = :pk", item{}, true, 0); !slices.Equal(got, []string{"A#1", "A#2", "A#3", "B#1", "C#1"}) {
			t.Errorf("forward: %v", got)
		}
		if got := query("", "PK = :pk AND SK < :before", item{":before": s("B")}, false, 2); !slices.Equal(got, []string{"A#3", "A#2"}) {
			t.Errorf("newest before B, two: %v", got)
		}
		if got := query("", "PK = :pk AND begins_with(SK, :sk)", item{":sk": s("A#")}, true, 0); !slices.Equal(got, []string{"A#1", "A#2", "A#3"}) {
			t.Errorf("prefix: %v", got)
		}
		if got := query("", "PK = :pk AND SK BETWEEN :lo AND :hi", item{":lo": s("A#1$"), ":hi": s("B#1")}, true, 0); !slices.Equal(got, []string{"A#2", "A#3", "B#1"}) {
			t.Errorf("between: %v", got)
		}
		if got := query(Index, keyschema.ByResourcePK+" = :pk", item{}, false, 0); !slices.Equal(got, []string{"C#1", "B#1", "A#3", "A#2", "A#1"}) {
			t.Errorf("index: %v", got)
		}
	})
}
