package webhook

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/sealing"
)

// conflicting answers each transaction with the next outcome in line, as
// DynamoDB does when concurrent transactions touch the same item (moto runs
// transactions one at a time and never does). Other calls are not expected.
type conflicting struct {
	dynamo.API
	outcomes []error
	calls    int
}

func (c *conflicting) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	err := c.outcomes[min(c.calls, len(c.outcomes)-1)]
	c.calls++
	return &dynamodb.TransactWriteItemsOutput{}, err
}

func conflict() error {
	return &types.TransactionCanceledException{Message: aws.String("Transaction cancelled"), CancellationReasons: []types.CancellationReason{
		{Code: aws.String("TransactionConflict")}, {Code: aws.String("None")},
	}}
}

func TestCountedWritesRetryConflicts(t *testing.T) {
	sealer, err := sealing.New("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	hook := Webhook{TenantID: "t1", ID: "wh_1", Name: "n", URL: "https://example.com/", Events: []string{"asset.created"}}
	for _, tc := range []struct {
		name      string
		outcomes  []error
		wantCalls int
		wantCode  apierror.Code // "" = success
	}{
		{"lost once, then won", []error{conflict(), nil}, 2, ""},
		{"lost every time", []error{conflict()}, countTries, apierror.Throttled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for op, run := range map[string]func(*Store) error{
				"create": func(s *Store) error { return s.Create(context.Background(), hook) },
				"delete": func(s *Store) error { return s.Delete(context.Background(), hook.TenantID, hook.ID) },
			} {
				db := &conflicting{outcomes: tc.outcomes}
				err := run(&Store{DB: db, Table: "t", Sealer: sealer})
				if db.calls != tc.wantCalls {
					t.Errorf("%s made %d transactions, want %d", op, db.calls, tc.wantCalls)
				}
				var ae *apierror.Error
				switch {
				case tc.wantCode == "" && err != nil:
					t.Errorf("%s: %v", op, err)
				case tc.wantCode != "" && (!errors.As(err, &ae) || ae.Code != tc.wantCode):
					t.Errorf("%s: %v, want an API error %s (never a 500)", op, err, tc.wantCode)
				}
			}
		})
	}
}
