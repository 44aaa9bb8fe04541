package devstack

import (
	"context"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// isolation gives moto the isolation DynamoDB's transactions have: moto
// applies a TransactWriteItems item by item and, when one condition fails,
// puts back a copy of the whole table taken when it began, undoing whatever
// other requests wrote meanwhile (and reusing stream sequence numbers). So a
// transaction runs alone, and every other DynamoDB and DynamoDB Streams call
// of the process shares the lock. Lock per endpoint: stacks of one process
// on one server share it. Each attempt takes it, not the SDK's retry waits.
//
// moto's SQS has a gap of the same kind: ChangeMessageVisibility looks a
// receipt handle up by walking the queue's message list while a concurrent
// delete removes from it, so it can skip the message and answer
// ReceiptHandleIsInvalid (a retry then waits out the 6-minute visibility
// timeout). Deletes therefore run alone against visibility changes.
//
// Nor are moto's conditional writes atomic: it checks a condition and then
// applies the write in separate steps, so two conditional updates of one
// item can both pass (two copies of a delivery message both won attempt 1's
// claim, and the receiver got two POSTs). So every item write also takes the
// lock of the item it writes (striped by table and key): writes to one item
// never overlap, as in DynamoDB. Reads take none.
type isolation struct {
	mu, sqs sync.RWMutex
	items   [256]sync.Mutex
}

// tableKeys remembers each table's key attributes (by table name), for the
// item locks.
var tableKeys sync.Map

// itemLocks returns the stripes of the items a write touches, sorted and
// distinct (so locking them in order cannot deadlock); none for other calls.
func (l *isolation) itemLocks(params any) []int {
	var stripes []int
	add := func(table string, item map[string]ddbtypes.AttributeValue) {
		keys := []string{"PK", "SK"}
		if k, ok := tableKeys.Load(table); ok {
			keys = k.([]string)
		}
		h := fnv.New32a()
		h.Write([]byte(table))
		for _, k := range keys {
			h.Write([]byte("\x00" + attrString(item[k])))
		}
		stripes = append(stripes, int(h.Sum32()%uint32(len(l.items))))
	}
	switch in := params.(type) {
	case *dynamodb.PutItemInput:
		add(deref(in.TableName), in.Item)
	case *dynamodb.UpdateItemInput:
		add(deref(in.TableName), in.Key)
	case *dynamodb.DeleteItemInput:
		add(deref(in.TableName), in.Key)
	case *dynamodb.BatchWriteItemInput:
		for table, writes := range in.RequestItems {
			for _, w := range writes {
				if w.PutRequest != nil {
					add(table, w.PutRequest.Item)
				}
				if w.DeleteRequest != nil {
					add(table, w.DeleteRequest.Key)
				}
			}
		}
	}
	slices.Sort(stripes)
	return slices.Compact(stripes)
}

var (
	isolationsMu sync.Mutex
	isolations   = map[string]*isolation{}
)

func isolationFor(endpoint string) *isolation {
	isolationsMu.Lock()
	defer isolationsMu.Unlock()
	if isolations[endpoint] == nil {
		isolations[endpoint] = &isolation{}
	}
	return isolations[endpoint]
}

// motoAnswerLimit bounds how long a call whose caller gave up holds the
// locks waiting for moto's answer.
const motoAnswerLimit = 2 * time.Minute

// paramsKey carries an operation's input from Initialize to Finalize.
type paramsKey struct{}

func params(ctx context.Context) any { return middleware.GetStackValue(ctx, paramsKey{}) }

func (l *isolation) middleware(st *middleware.Stack) error {
	if err := st.Initialize.Add(middleware.InitializeMiddlewareFunc("LocalIsolationParams",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			return next.HandleInitialize(middleware.WithStackValue(ctx, paramsKey{}, in.Parameters), in)
		}), middleware.After); err != nil {
		return err
	}
	return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("LocalTransactionIsolation",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			switch op := awsmiddleware.GetOperationName(ctx); awsmiddleware.GetServiceID(ctx) {
			case "DynamoDB", "DynamoDB Streams":
				if op == "TransactWriteItems" {
					l.mu.Lock()
					defer l.mu.Unlock()
				} else {
					l.mu.RLock()
					defer l.mu.RUnlock()
					for _, i := range l.itemLocks(params(ctx)) {
						l.items[i].Lock()
						defer l.items[i].Unlock()
					}
				}
				// A caller that gives up (its invocation's deadline, a
				// cancelled sibling) closes the connection, but moto goes on
				// with the request: released then, the locks would let a
				// transaction overlap it, and a cancelled transaction's
				// rollback would take the other write's stream record with
				// it. So a call sent runs to moto's answer, locks held (for
				// at most motoAnswerLimit, should moto hang); one whose
				// caller left while it waited for the locks is not sent.
				if err := ctx.Err(); err != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, err
				}
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), motoAnswerLimit)
				defer cancel()
			case "SQS":
				switch op {
				case "DeleteMessage", "DeleteMessageBatch":
					l.sqs.Lock()
					defer l.sqs.Unlock()
				case "ChangeMessageVisibility", "ChangeMessageVisibilityBatch":
					l.sqs.RLock()
					defer l.sqs.RUnlock()
				}
			}
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}
