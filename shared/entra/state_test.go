package entra

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/dynamo"
)

// states holds consent states by partition key and applies TakeState's
// conditional update; lost makes each update's first answer go missing, so
// the caller sees the answer of the same update sent again (what the SDK
// does when an answer is lost). The e2e tests prove the real update against
// moto; this proves the retry, which moto cannot be made to lose.
type states struct {
	dynamo.API
	items map[string]map[string]types.AttributeValue
	lost  bool
}

func (s *states) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	s.items[in.Item["PK"].(*types.AttributeValueMemberS).Value] = in.Item
	return &dynamodb.PutItemOutput{}, nil
}

func (s *states) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	apply := func() (*dynamodb.UpdateItemOutput, error) {
		it := s.items[in.Key["PK"].(*types.AttributeValueMemberS).Value]
		token := in.ExpressionAttributeValues[":token"].(*types.AttributeValueMemberS).Value
		if taken, ok := it["takenBy"].(*types.AttributeValueMemberS); it == nil || (ok && taken.Value != token) {
			return nil, &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
		}
		it["takenBy"] = &types.AttributeValueMemberS{Value: token}
		return &dynamodb.UpdateItemOutput{Attributes: it}, nil
	}
	if s.lost {
		if _, err := apply(); err != nil {
			return nil, err
		}
	}
	return apply()
}

func (s *states) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	delete(s.items, in.Key["PK"].(*types.AttributeValueMemberS).Value)
	return &dynamodb.DeleteItemOutput{}, nil
}

// A take whose answer was lost and sent again still takes the state; a
// second callback with the same state is refused.
func TestATakeRetriedAfterALostAnswerStillTakesTheState(t *testing.T) {
	ctx := context.Background()
	db := &states{items: map[string]map[string]types.AttributeValue{}, lost: true}
	s := &Store{DB: db, Table: "t"}
	now := time.Now()
	if err := s.PutState(ctx, "h1", consentRequest{TenantID: "t1", Stage: stageSignIn}, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	req, ok, err := s.TakeState(ctx, "h1", now)
	if err != nil || !ok || req.TenantID != "t1" || req.Stage != stageSignIn {
		t.Fatalf("the retried take: %+v %v %v", req, ok, err)
	}
	if _, ok, err := s.TakeState(ctx, "h1", now); err != nil || ok {
		t.Fatalf("a second callback took the state: %v %v", ok, err)
	}
}

// A state taken by another callback (its mark there, not yet deleted) is
// refused.
func TestAStateMarkedByAnotherCallbackIsRefused(t *testing.T) {
	ctx := context.Background()
	db := &states{items: map[string]map[string]types.AttributeValue{}}
	s := &Store{DB: db, Table: "t"}
	now := time.Now()
	if err := s.PutState(ctx, "h1", consentRequest{TenantID: "t1", Stage: stageSignIn}, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, it := range db.items {
		it["takenBy"] = &types.AttributeValueMemberS{Value: "another"}
	}
	if _, ok, err := s.TakeState(ctx, "h1", now); err != nil || ok {
		t.Fatalf("took a state another callback holds: %v %v", ok, err)
	}
}
