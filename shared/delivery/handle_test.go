package delivery

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// A batch whose invocation has ended keeps every message it did not reach
// in the queue: reported as a failure, never as handled.
func TestAnEndedInvocationKeepsItsMessages(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp, err := (&Dispatcher{Concurrency: 4}).Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1"}, {MessageId: "m2"}}})
	if err != nil || len(resp.BatchItemFailures) != 2 {
		t.Fatalf("%+v %v: want both messages kept", resp, err)
	}
}
