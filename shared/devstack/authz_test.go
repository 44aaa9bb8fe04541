package devstack

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// emulator stands in for moto: a transaction goes on after its caller hangs
// up, until the test releases it.
type emulator struct {
	release chan struct{}
	started chan struct{}
	busy    atomic.Bool // a transaction is being applied
}

func (e *emulator) RoundTrip(req *http.Request) (*http.Response, error) {
	answer := func() (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
			Body: io.NopCloser(strings.NewReader("{}")), Request: req}, nil
	}
	if !strings.HasSuffix(req.Header.Get("X-Amz-Target"), ".TransactWriteItems") {
		return answer()
	}
	e.busy.Store(true)
	done := make(chan struct{})
	go func() { // the emulator's own thread: it does not see the caller leave
		<-e.release
		e.busy.Store(false)
		close(done)
	}()
	close(e.started)
	select {
	case <-done:
		return answer()
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
}

// A DynamoDB call whose caller gives up keeps the stack's locks until the
// emulator has answered it: released when the caller left, they would let
// another write overlap a transaction still being applied (and a cancelled
// transaction's rollback take that write's stream record with it).
func TestAbandonedCallHoldsTheLocksUntilAnswered(t *testing.T) {
	em := &emulator{release: make(chan struct{}), started: make(chan struct{})}
	iso := &isolation{}
	db := dynamodb.New(dynamodb.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://emulator.local"), HTTPClient: &http.Client{Transport: em},
		Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1, APIOptions: []func(*middleware.Stack) error{iso.middleware},
	})
	ctx, cancel := context.WithCancel(context.Background())
	returned := make(chan bool, 1) // whether the emulator was still applying it
	go func() {
		_, _ = db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{ConditionCheck: &types.ConditionCheck{
			TableName: aws.String("t"), Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "a"}}, ConditionExpression: aws.String("attribute_exists(PK)"),
		}}}})
		returned <- em.busy.Load()
	}()
	<-em.started
	cancel()
	select {
	case busy := <-returned:
		t.Fatalf("the call returned when its caller gave up, the emulator still applying it (%v): the locks were free too soon", busy)
	case <-time.After(200 * time.Millisecond): // long enough for a call that follows its context to return
	}
	close(em.release)
	if busy := <-returned; busy {
		t.Fatal("the call returned before the emulator answered")
	}
}
