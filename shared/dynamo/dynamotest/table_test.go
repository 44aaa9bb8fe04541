package dynamotest

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestTableKeepsTheContract(t *testing.T) { Contract(t, New(), "t", "contract") }

// What the fake does not model fails loudly instead of answering something.
func TestUnmodelledCallsFail(t *testing.T) {
	ctx := context.Background()
	db := New()
	key := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "p"}, "SK": &types.AttributeValueMemberS{Value: "s"}}
	_, e1 := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("t"), Key: key})
	_, e2 := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t"), Item: key, ConditionExpression: aws.String("attribute_exists(PK)")})
	_, e3 := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("t"), KeyConditionExpression: aws.String("PK = :pk AND SK > :x")})
	_, e4 := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{})
	for i, err := range []error{e1, e2, e3, e4} {
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("call %d: %v", i+1, err)
		}
	}
}
