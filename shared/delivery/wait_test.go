package delivery

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// fakeSQS records what the dispatcher asks of the queue.
type fakeSQS struct {
	sent       []*sqs.SendMessageInput
	visibility []int32
	sendErr    error
	cmvErr     error
}

func (f *fakeSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	if f.sendErr != nil {
		return nil, f.sendErr
	}
	f.sent = append(f.sent, in)
	return &sqs.SendMessageOutput{}, nil
}

func (f *fakeSQS) SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	return &sqs.SendMessageBatchOutput{}, nil
}

func (f *fakeSQS) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	if f.cmvErr != nil {
		return nil, f.cmvErr
	}
	f.visibility = append(f.visibility, in.VisibilityTimeout)
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func TestWaitKeepsShortRetriesInFlightAndParksLongOnes(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	k := Key{TenantID: "t", DeliveryID: "msg_1", SK: "x#msg_1", WebhookID: "wh_1"}
	for _, c := range []struct {
		name       string
		due        time.Duration
		sendErr    error
		cmvErr     error
		keep       bool
		delay      int32 // of the re-sent message; -1: none sent
		visibility int32 // -1: visibility unchanged
	}{
		{"short wait stays in flight", 30 * time.Second, nil, nil, true, -1, 30},
		{"at the limit stays in flight", time.Minute, nil, nil, true, -1, 60},
		{"longer wait is parked", 5 * time.Minute, nil, nil, false, 300, -1},
		{"beyond SQS's delay hops 15 minutes", 2 * time.Hour, nil, nil, false, 900, -1},
		{"a failed park falls back to visibility", 5 * time.Minute, errors.New("throttled"), nil, true, -1, 300},
		{"a stale receipt falls back to a delayed copy", 30 * time.Second, nil, errors.New("ReceiptHandleIsInvalid"), false, 30, -1},
		{"both failing keeps the message", 30 * time.Second, errors.New("throttled"), errors.New("ReceiptHandleIsInvalid"), true, -1, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := &fakeSQS{sendErr: c.sendErr, cmvErr: c.cmvErr}
			d := &Dispatcher{Queue: &Queue{SQS: q, URL: "q"}, HoldMax: time.Minute}
			if keep := d.wait(context.Background(), k, "r", c.due, log); keep != c.keep {
				t.Fatalf("keep = %v, want %v", keep, c.keep)
			}
			switch {
			case c.delay < 0 && len(q.sent) != 0:
				t.Fatalf("sent %d messages", len(q.sent))
			case c.delay >= 0 && (len(q.sent) != 1 || q.sent[0].DelaySeconds != c.delay || *q.sent[0].MessageBody != `{"tenantId":"t","deliveryId":"msg_1","sk":"x#msg_1","webhookId":"wh_1"}`):
				t.Fatalf("re-sent %+v, want one message delayed %d s", q.sent, c.delay)
			case c.visibility < 0 && len(q.visibility) != 0, c.visibility >= 0 && (len(q.visibility) != 1 || q.visibility[0] != c.visibility):
				t.Fatalf("visibility changes %v, want %d", q.visibility, c.visibility)
			}
		})
	}
}
