package sqsbatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// DrainAPI is the calls Drain makes.
type DrainAPI interface {
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(context.Context, *sqs.DeleteMessageInput, ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

// Drain empties a queue (a dead-letter queue's sweep): each message's body
// goes to handle, and is deleted once handle succeeds. A message handle
// fails stays (it reappears after visibility seconds), is counted in failed
// and holds up none of the others; meeting it again ends the drain, as do
// an empty queue and ctx's deadline coming within margin. name is the
// queue in logs and errors.
func Drain(ctx context.Context, api DrainAPI, url, name string, visibility int32, margin time.Duration,
	handle func(ctx context.Context, body string) error) (failed int, err error) {
	seen := map[string]bool{}
	for {
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < margin {
			return failed, err
		}
		out, rerr := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: visibility,
		})
		if rerr != nil {
			return failed, errors.Join(err, fmt.Errorf("read %s: %w", name, rerr))
		}
		if len(out.Messages) == 0 {
			return failed, err
		}
		for _, m := range out.Messages {
			id := aws.ToString(m.MessageId)
			if seen[id] {
				return failed, err
			}
			seen[id] = true
			if herr := handle(ctx, aws.ToString(m.Body)); herr != nil {
				slog.Error(name+" sweep: a message failed again; it stays for the next sweep", "error", herr.Error())
				failed++
				err = errors.Join(err, herr)
				continue
			}
			if _, derr := api.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); derr != nil {
				return failed, errors.Join(err, fmt.Errorf("delete from %s: %w", name, derr))
			}
		}
	}
}
