package delivery

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

// SQSAPI is the subset of *sqs.Client the queue uses.
type SQSAPI interface {
	SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Queue is DeliveryQueue: a message names a delivery record; the record holds the payload.
type Queue struct {
	SQS SQSAPI
	URL string
}

// Send enqueues jobs in batches of ten, resending entries SQS refused once.
func (q *Queue) Send(ctx context.Context, jobs []Key) error {
	for start := 0; start < len(jobs); start += 10 {
		batch := jobs[start:min(start+10, len(jobs))]
		entries := make([]sqstypes.SendMessageBatchRequestEntry, len(batch))
		for i, j := range batch {
			body, err := json.Marshal(j)
			if err != nil {
				return err
			}
			entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body))}
		}
		for try := 0; len(entries) > 0; try++ {
			out, err := q.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: entries})
			if err != nil {
				return fmt.Errorf("enqueue deliveries: %w", err)
			}
			if len(out.Failed) == 0 {
				break
			}
			if try == 2 {
				return fmt.Errorf("enqueue deliveries: %d entries refused: %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
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

// Delay hides a received message for d: the next attempt happens when it reappears.
func (q *Queue) Delay(ctx context.Context, receipt string, d time.Duration) error {
	secs := int32(min(max(d, time.Second), maxVisibility) / time.Second)
	_, err := q.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(q.URL), ReceiptHandle: aws.String(receipt), VisibilityTimeout: secs,
	})
	return err
}

// maxDelay is SQS's ceiling for a message's delay.
const maxDelay = 15 * time.Minute

// SendDelayed queues a new message for k that becomes visible after d (at
// most 15 minutes: a longer wait is re-delayed when it arrives).
func (q *Queue) SendDelayed(ctx context.Context, k Key, d time.Duration) error {
	body, err := json.Marshal(k)
	if err != nil {
		return err
	}
	_, err = q.SQS.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(q.URL), MessageBody: aws.String(string(body)),
		DelaySeconds: int32(min(max(d, 0), maxDelay) / time.Second),
	})
	return err
}
