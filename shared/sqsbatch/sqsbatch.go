// Package sqsbatch queues JSON messages on an SQS queue ten to a
// SendMessageBatch, the most one call takes.
package sqsbatch

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// API is the call Send makes.
type API interface {
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Send queues each message as JSON, visible after delay (0: at once), ten a
// call, each in the message group group gives (the tenant: a fair queue
// serves a quiet tenant's messages before a noisy one's backlog; nil: none).
// Entries SQS refuses within a batch are sent again, three tries in all; op
// names the work in errors.
func Send[T any](ctx context.Context, api API, url, op string, messages []T, delay time.Duration, group func(T) string) error {
	for start := 0; start < len(messages); start += 10 {
		batch := messages[start:min(start+10, len(messages))]
		entries := make([]sqstypes.SendMessageBatchRequestEntry, len(batch))
		for i, m := range batch {
			body, err := json.Marshal(m)
			if err != nil {
				return err
			}
			entries[i] = sqstypes.SendMessageBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body)), DelaySeconds: int32(delay / time.Second),
			}
			if group != nil {
				entries[i].MessageGroupId = aws.String(group(m))
			}
		}
		for try := 0; len(entries) > 0; try++ {
			out, err := api.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
			if err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
			if len(out.Failed) == 0 {
				break
			}
			if try == 2 {
				return fmt.Errorf("%s: %d entries refused: %s", op, len(out.Failed), aws.ToString(out.Failed[0].Message))
			}
			failed := map[string]bool{}
			for _, f := range out.Failed {
				failed[aws.ToString(f.Id)] = true
			}
			var retry []sqstypes.SendMessageBatchRequestEntry
			for _, e := range entries {
				if failed[aws.ToString(e.Id)] {
					retry = append(retry, e)
				}
			}
			entries = retry
		}
	}
	return nil
}
