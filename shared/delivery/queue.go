package delivery

import (
	"context"
	"encoding/json"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/uniasset/integrations/shared/sqsbatch"
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

// Send enqueues jobs in batches of ten, resending entries SQS refused. Each
// message's group is its tenant: DeliveryQueue is a fair queue, so a
// tenant's backlog does not hold back the others' deliveries.
func (q *Queue) Send(ctx context.Context, jobs []Key) error {
	return sqsbatch.Send(ctx, q.SQS, q.URL, "enqueue deliveries", jobs, 0, Key.group)
}

func (k Key) group() string { return k.TenantID }

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
		QueueUrl: aws.String(q.URL), MessageBody: aws.String(string(body)), MessageGroupId: aws.String(k.group()),
		DelaySeconds: int32(min(max(d, 0), maxDelay) / time.Second),
	})
	return err
}
