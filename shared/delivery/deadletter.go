package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/sqsbatch"
)

// MaxRedrives is how many times the sweep queues a delivery again from
// DeliveryDLQ before it ends it: a message that keeps dead-lettering
// (a bug, a record the dispatcher cannot process) must not circle for ever.
const MaxRedrives = 3

// DeadLetters empties DeliveryDLQ, where SQS parks a message the dispatcher
// failed to process maxReceiveCount times (an outage of ours, a bug). Left
// there, its delivery would stay pending for ever. Each message is judged
// by its record: a delivery still pending is queued again (up to
// MaxRedrives times, then ended failed, so the Owner sees it and can
// resend or recover it); one that ended or is gone needs nothing; a
// recovery's step is queued again (steps are idempotent), MaxRedrives
// times, then its recovery is stopped where it got to (truncated, with
// resumeFrom). Then the message is deleted.
type DeadLetters struct {
	SQS        sqsbatch.DrainAPI
	URL        string // DeliveryDLQ
	Deliveries *Store
	Queue      *Queue // DeliveryQueue
	Recoveries *Recoveries
	Now        func() time.Time
}

// Swept counts what a sweep did.
type Swept struct {
	Requeued  int `json:"requeued"`  // deliveries queued again
	Ended     int `json:"ended"`     // deliveries ended failed after MaxRedrives
	Settled   int `json:"settled"`   // messages whose delivery had ended or was gone
	Steps     int `json:"steps"`     // recovery steps queued again
	Malformed int `json:"malformed"` // messages no retry can use, dropped
	Stopped   int `json:"stopped"`   // recoveries ended after MaxRedrives of a step
	Failed    int `json:"failed"`    // messages left for the next sweep
}

// sweepVisibility hides a message while the sweep handles it.
const sweepVisibility = 60

// Sweep works through the queue (sqsbatch.Drain) until it is empty, it
// meets a message it already took, or ctx's deadline is near; what is left
// waits for the next sweep.
func (s *DeadLetters) Sweep(ctx context.Context) (n Swept, err error) {
	n.Failed, err = sqsbatch.Drain(ctx, s.SQS, s.URL, "DeliveryDLQ", sweepVisibility, 10*time.Second,
		func(ctx context.Context, body string) error { return s.one(ctx, body, &n) })
	return n, err
}

// one settles a dead-lettered message's delivery or step.
func (s *DeadLetters) one(ctx context.Context, body string, n *Swept) error {
	var msg struct {
		Key
		recoveryMessage
	}
	err := json.Unmarshal([]byte(body), &msg)
	if step := msg.Recovery; err == nil && step.ID != "" && step.TenantID != "" {
		if step.Redrives >= MaxRedrives {
			// Its steps keep failing: end it where it got to, for the Owner to resume.
			slog.Error("dead-letter sweep: a recovery's step failed after its redrives; the recovery is stopped", "tenantId", step.TenantID, "recoveryId", step.ID)
			n.Stopped++
			return s.Recoveries.Stop(ctx, step.TenantID, step.ID)
		}
		n.Steps++
		var again recoveryMessage
		again.Recovery.TenantID, again.Recovery.ID, again.Recovery.Redrives = step.TenantID, step.ID, step.Redrives+1
		raw, err := json.Marshal(again)
		if err != nil {
			return err
		}
		_, err = s.Queue.SQS.SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl: aws.String(s.Queue.URL), MessageBody: aws.String(string(raw)), MessageGroupId: aws.String(step.TenantID),
		})
		return err
	}
	k := msg.Key
	if err != nil || k.TenantID == "" || k.DeliveryID == "" || k.SK == "" || k.WebhookID == "" {
		slog.Error("dead-letter sweep: dropping a malformed message")
		n.Malformed++
		return nil
	}
	redriven, err := s.Deliveries.Redrive(ctx, k)
	if err != nil {
		return err
	}
	log := slog.With("tenantId", k.TenantID, "deliveryId", k.DeliveryID)
	switch redriven {
	case redriveQueue:
		// A fresh message: the gate's places and the lateness it held are stale.
		fresh := Key{TenantID: k.TenantID, DeliveryID: k.DeliveryID, SK: k.SK, WebhookID: k.WebhookID, PK: k.PK}
		if err := s.Queue.Send(ctx, []Key{fresh}); err != nil {
			return err
		}
		log.Warn("dead-letter sweep: delivery queued again")
		n.Requeued++
	case redriveEnd:
		inFlight, err := s.Deliveries.Discard(ctx, k, fmt.Sprintf("its message failed to be processed %d times; resend or recover it", MaxRedrives+1), s.Now())
		if err != nil {
			return err
		}
		if !inFlight {
			log.Error("dead-letter sweep: delivery ended failed after its redrives")
			n.Ended++
		}
	default:
		n.Settled++
	}
	return nil
}

type redrive int

const (
	redriveNothing redrive = iota // ended, or gone
	redriveQueue                  // still pending: queue it again
	redriveEnd                    // pending, redriven MaxRedrives times: end it
)

// Redrive counts one more redrive of a pending delivery and says what to do
// with its dead-lettered message.
func (s *Store) Redrive(ctx context.Context, k Key) (redrive, error) {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: k.attrs(s.Shards),
		UpdateExpression:         aws.String("ADD redrives :one"),
		ConditionExpression:      aws.String("#status = :pending AND (attribute_not_exists(redrives) OR redrives < :max)"),
		ExpressionAttributeNames: map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": &types.AttributeValueMemberN{Value: "1"}, ":max": &types.AttributeValueMemberN{Value: strconv.Itoa(MaxRedrives)},
			":pending": &types.AttributeValueMemberS{Value: Pending},
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	held, refused := dynamo.Refused(err)
	switch {
	case err == nil:
		return redriveQueue, nil
	case !refused:
		return redriveNothing, dynamo.Translate("redrive delivery", err)
	case held == nil: // DynamoDB returns the item that failed the condition; read it if not
		rec, found, err := s.Get(ctx, k)
		if err != nil || !found || rec.Status != Pending {
			return redriveNothing, err // gone (retention, or never written), or ended
		}
		return redriveEnd, nil
	}
	if st, ok := held["status"].(*types.AttributeValueMemberS); ok && st.Value == Pending {
		return redriveEnd, nil
	}
	return redriveNothing, nil
}
