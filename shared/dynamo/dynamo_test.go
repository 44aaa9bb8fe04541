package dynamo

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/uniasset/integrations/shared/apierror"
)

func TestTranslate(t *testing.T) {
	throttled := Translate("op", &smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException"})
	if e, ok := apierror.From(throttled); !ok || e.Code != apierror.Throttled {
		t.Fatalf("throttling became %v", throttled)
	}
	other := Translate("op", errors.New("boom"))
	if _, ok := apierror.From(other); ok {
		t.Fatal("an unexpected error was shown to the client")
	}
	if Translate("op", nil) != nil {
		t.Fatal("nil became an error")
	}
}

func TestConditionFailedAndCancelledAt(t *testing.T) {
	if !ConditionFailed(&types.ConditionalCheckFailedException{}) {
		t.Fatal("plain conditional failure missed")
	}
	tce := &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{{Code: aws.String("None")}, {Code: aws.String("ConditionalCheckFailed")}}}
	if !ConditionFailed(tce) {
		t.Fatal("conditional failure inside a transaction missed")
	}
	if got := CancelledAt(tce); len(got) != 2 || got[0] || !got[1] {
		t.Fatalf("CancelledAt = %v", got)
	}
	if ConditionFailed(errors.New("x")) || CancelledAt(errors.New("x")) != nil {
		t.Fatal("unrelated error read as a condition failure")
	}
}
