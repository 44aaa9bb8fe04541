package cost

import (
	"context"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"
)

// chunk is SQS's billing unit: each 64 KB of a request's payload is one request.
const chunk = 64 * KB

func chunks(payload int) int { return max(1, (payload+chunk-1)/chunk) }

// Queues tallies the SQS requests of the clients it is added to, as SQS
// bills them: a send by each 64 KB of its messages (a batch of ten small
// ones is one request), a receive by each 64 KB of what it returned, every
// other call one. A receive that returned nothing is counted apart: it is
// an idle poller's cost, paid by the month whatever the traffic.
type Queues struct {
	mu              sync.Mutex
	requests, empty int
}

// Take returns the billed requests and the empty receives so far, and starts anew.
func (q *Queues) Take() (requests, emptyReceives int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	requests, emptyReceives = q.requests, q.empty
	q.requests, q.empty = 0, 0
	return requests, emptyReceives
}

// Add puts the tally on a middleware stack (an aws.Config's APIOptions: it
// counts SQS calls and lets every other call through).
func (q *Queues) Add(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("cost.Queues",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			if awsmiddleware.GetServiceID(ctx) != sqs.ServiceID {
				return out, md, err
			}
			n, empty := 1, false
			switch p := in.Parameters.(type) {
			case *sqs.SendMessageInput:
				n = chunks(len(*p.MessageBody))
			case *sqs.SendMessageBatchInput:
				size := 0
				for _, e := range p.Entries {
					size += len(*e.MessageBody)
				}
				n = chunks(size)
			case *sqs.ReceiveMessageInput:
				r, _ := out.Result.(*sqs.ReceiveMessageOutput)
				size := 0
				if r != nil {
					for _, m := range r.Messages {
						size += len(*m.Body)
					}
				}
				n, empty = chunks(size), err == nil && (r == nil || len(r.Messages) == 0)
			}
			q.mu.Lock()
			if empty {
				q.empty++
			} else {
				q.requests += n
			}
			q.mu.Unlock()
			return out, md, err
		}), middleware.After)
}
