package dynamotest

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestTableKeepsTheContract(t *testing.T) { Contract(t, New("t"), "t", "contract") }

// What the fake does not model fails loudly instead of answering something.
func TestUnmodelledCallsFail(t *testing.T) {
	ctx := context.Background()
	db := New("t")
	key := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "p"}, "SK": &types.AttributeValueMemberS{Value: "s"}}
	_, e1 := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("t"), Key: key})
	_, e5 := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("t"), Key: key, ConditionExpression: aws.String("attribute_exists(PK)")})
	_, e2 := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t"), Item: key, ConditionExpression: aws.String("attribute_exists(PK)")})
	_, e3 := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("t"), KeyConditionExpression: aws.String("PK = :pk AND SK > :x"), ExpressionAttributeValues: map[string]types.AttributeValue{":pk": key["PK"], ":x": key["SK"]}})
	_, e4 := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{})
	for i, err := range []error{e1, e2, e3, e4, e5} {
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("call %d: %v", i+1, err)
		}
	}
}

// What DynamoDB refuses, the fake refuses too.
func TestInvalidCallsFail(t *testing.T) {
	ctx := context.Background()
	db := New("t")
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	key := map[string]types.AttributeValue{"PK": s("p"), "SK": s("s")}
	var rnf *types.ResourceNotFoundException
	if _, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("other"), Key: key}); !errors.As(err, &rnf) {
		t.Errorf("unknown table: %v", err)
	}
	if _, err := db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"t": {Keys: []map[string]types.AttributeValue{key, key}}}}); err == nil {
		t.Error("duplicate keys in a batch accepted")
	}
	if _, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t"), Key: map[string]types.AttributeValue{"PK": s("p"), "SK": s("s"), "x": s("y")}}); err == nil {
		t.Error("a key with a third attribute accepted")
	}
	if _, err := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("t"), KeyConditionExpression: aws.String("PK = :pk")}); err == nil {
		t.Error("a query without :pk accepted")
	}
}

// A batch of writes holds 1 to 25, as DynamoDB's does (moto takes more, so
// this is Table's alone, outside the contract).
func TestBatchWritesHoldAtMost25(t *testing.T) {
	db := New("t")
	var writes []types.WriteRequest
	for i := range 26 {
		writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "p"}, "SK": &types.AttributeValueMemberS{Value: string(rune('a' + i))}}}})
	}
	for n, ok := range map[int]bool{0: false, 25: true, 26: false} {
		_, err := db.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"t": writes[:n]}})
		if (err == nil) != ok {
			t.Errorf("a batch of %d: %v", n, err)
		}
	}
}
