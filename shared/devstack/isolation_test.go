package devstack

import (
	"context"
	"io"
	"net/http"
	"slices"
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
// up, until the test releases it; it notes any other request that arrives
// meanwhile.
type emulator struct {
	release    chan struct{}
	started    chan struct{}
	busy       atomic.Bool  // a transaction is being applied
	overlapped atomic.Bool  // another request arrived while it was
	others     atomic.Int32 // other requests that arrived
}

func (e *emulator) RoundTrip(req *http.Request) (*http.Response, error) {
	answer := func() (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
			Body: io.NopCloser(strings.NewReader("{}")), Request: req}, nil
	}
	if !strings.HasSuffix(req.Header.Get("X-Amz-Target"), ".TransactWriteItems") {
		e.others.Add(1)
		if e.busy.Load() {
			e.overlapped.Store(true)
		}
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

func newEmulated() (*emulator, *dynamodb.Client) {
	em := &emulator{release: make(chan struct{}), started: make(chan struct{})}
	iso := &isolation{}
	return em, dynamodb.New(dynamodb.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://emulator.local"), HTTPClient: &http.Client{Transport: em},
		Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1, APIOptions: []func(*middleware.Stack) error{iso.middleware},
	})
}

func check(db *dynamodb.Client, ctx context.Context) error {
	_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{ConditionCheck: &types.ConditionCheck{
		TableName: aws.String("t"), Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "a"}}, ConditionExpression: aws.String("attribute_exists(PK)"),
	}}}})
	return err
}

func put(db *dynamodb.Client, ctx context.Context) error {
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t"), Item: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "b"}}})
	return err
}

// A DynamoDB call whose caller gives up keeps the stack's locks until the
// emulator has answered it: released when the caller left, they would let
// another write overlap a transaction still being applied (and a cancelled
// transaction's rollback take that write's stream record with it).
func TestAbandonedCallHoldsTheLocksUntilAnswered(t *testing.T) {
	em, db := newEmulated()
	ctx, cancel := context.WithCancel(context.Background())
	returned := make(chan bool, 1) // whether the emulator was still applying it
	go func() {
		_ = check(db, ctx)
		returned <- em.busy.Load()
	}()
	<-em.started
	cancel()
	next := make(chan error, 1)
	go func() { next <- put(db, context.Background()) }()
	select {
	case busy := <-returned:
		t.Fatalf("the call returned when its caller gave up, the emulator still applying it (%v): the locks were free too soon", busy)
	case <-time.After(200 * time.Millisecond): // long enough for a call that follows its context to return, and the next to go
	}
	close(em.release)
	if busy := <-returned; busy {
		t.Fatal("the call returned before the emulator answered")
	}
	if err := <-next; err != nil || em.overlapped.Load() {
		t.Fatalf("the next call (%v) reached the emulator while it applied the transaction: %v", err, em.overlapped.Load())
	}
}

// A call whose caller gives up while it waits for the locks is not sent.
func TestCallAbandonedWhileWaitingIsNotSent(t *testing.T) {
	em, db := newEmulated()
	first := make(chan error, 1)
	go func() { first <- check(db, context.Background()) }()
	<-em.started // the transaction holds the locks
	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan error, 1)
	go func() { waiting <- put(db, ctx) }()
	time.Sleep(200 * time.Millisecond) // time to reach the locks; were it slower, the SDK would refuse it unsent, and the test pass regardless
	cancel()
	close(em.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-waiting; err == nil || em.others.Load() != 0 {
		t.Fatalf("a call whose caller left was sent (%d requests), answered %v", em.others.Load(), err)
	}
}

// Writes to one item share a lock (moto's conditional writes are not atomic);
// reads and other items do not wait on it.
func TestItemLocks(t *testing.T) {
	var l isolation
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	item := map[string]types.AttributeValue{"PK": s("TENANT#a#DELIVERY#1"), "SK": s("x#msg_1"), "status": s("pending")}
	key := map[string]types.AttributeValue{"PK": s("TENANT#a#DELIVERY#1"), "SK": s("x#msg_1")}
	put := l.itemLocks(&dynamodb.PutItemInput{TableName: aws.String("T"), Item: item})
	upd := l.itemLocks(&dynamodb.UpdateItemInput{TableName: aws.String("T"), Key: key})
	if len(put) != 1 || !slices.Equal(put, upd) {
		t.Fatalf("a put and an update of one item take different locks: %v %v", put, upd)
	}
	if got := l.itemLocks(&dynamodb.GetItemInput{TableName: aws.String("T"), Key: key}); len(got) != 0 {
		t.Fatalf("a read takes item locks: %v", got)
	}
	distinct := map[int]bool{}
	for i := range 50 {
		k := map[string]types.AttributeValue{"PK": s("TENANT#a#DELIVERY#1"), "SK": s("x#msg_" + string(rune('A'+i)))}
		distinct[l.itemLocks(&dynamodb.DeleteItemInput{TableName: aws.String("T"), Key: k})[0]] = true
	}
	if len(distinct) < 30 {
		t.Fatalf("50 items of one partition share %d locks: items, not partitions, must be striped", len(distinct))
	}
}
