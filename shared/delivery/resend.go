package delivery

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/systemlog"
)

// Resend makes one more attempt of a delivery, now, under its own id (so a
// receiver that deduplicates by webhook-id sees it as what it is). A
// delivered or failed one goes back to pending for a round of one attempt:
// a person watching the result, not a new retry schedule; a pending one
// keeps its schedule and has its next attempt brought forward. A System
// entry, written in the same transaction, says who resent it. An attempt in
// flight is a conflict: its outcome is recorded within the delivery timeout.
//
// The message is sent after the record is written: if the send fails, a
// re-opened delivery is ended failed (SendOrEnd), so it cannot wait for
// ever, and the caller's retry resends it; a pending one keeps its schedule.
func (q *Enqueuer) Resend(ctx context.Context, rec Record, by string, now time.Time) (Record, error) {
	for try := 0; ; try++ {
		if rec.Status == Pending && rec.InFlightUntil > isotime.Format(now) {
			return Record{}, apierror.New(apierror.Conflict, "an attempt of this delivery is under way; its outcome is recorded within the delivery timeout")
		}
		err := q.Store.reopen(ctx, rec, by, now)
		if err == nil {
			break
		}
		changed := dynamo.ConditionFailed(err) || dynamo.Conflicted(err)
		switch {
		case !changed:
			return Record{}, dynamo.Translate("resend delivery", err)
		case try == 2:
			return Record{}, apierror.New(apierror.Conflict, "the delivery kept changing while it was resent; retry")
		}
		// Changed since it was read (an attempt finished): judge it again.
		fresh, found, gerr := q.Store.Get(ctx, rec.Key())
		if gerr != nil {
			return Record{}, gerr
		}
		if !found {
			return Record{}, apierror.New(apierror.NotFound, "no delivery %q", rec.DeliveryID)
		}
		rec = fresh
	}
	// A delivery that was pending keeps its own messages and retries: a
	// refused send must not end it. One re-opened from delivered or failed
	// has no message but this one.
	send := q.Queue.Send
	if rec.Status != Pending {
		send = func(ctx context.Context, keys []Key) error {
			return q.SendOrEnd(ctx, keys, "the resend could not be queued; resend it again")
		}
	}
	if err := send(ctx, []Key{rec.Key()}); err != nil {
		return Record{}, err
	}
	if rec.Status != Pending {
		rec.RoundFrom, rec.RoundAttempts = rec.Attempts, 1
	}
	rec.Status, rec.NextAttemptAt, rec.UpdatedAt = Pending, "", isotime.Format(now)
	return rec, nil
}

// reopen writes the resend of rec over the state it was read in.
func (s *Store) reopen(ctx context.Context, rec Record, by string, now time.Time) error {
	values := map[string]types.AttributeValue{
		":was":      &types.AttributeValueMemberS{Value: rec.Status},
		":attempts": &types.AttributeValueMemberN{Value: strconv.Itoa(rec.Attempts)},
		":now":      &types.AttributeValueMemberS{Value: isotime.Format(now)},
	}
	update := "SET updatedAt = :now REMOVE nextAttemptAt, redrives"
	cond := "#status = :was AND attempts = :attempts AND (attribute_not_exists(inFlightUntil) OR inFlightUntil < :now)"
	if rec.Status != Pending {
		update = "SET #status = :pending, roundFrom = :attempts, roundAttempts = :one, updatedAt = :now REMOVE nextAttemptAt, inFlightUntil, redrives"
		values[":pending"] = &types.AttributeValueMemberS{Value: Pending}
		values[":one"] = &types.AttributeValueMemberN{Value: "1"}
	}
	entry, err := systemlog.Item(systemlog.Entry{
		TenantID: rec.TenantID, Event: systemlog.DeliveryResent, ResourceType: "webhook", ResourceID: rec.WebhookID,
		ResourceName: rec.WebhookName, Status: Pending,
		Details: fmt.Sprintf("%s of %s (%s, %d attempts) resent by %s", rec.DeliveryID, rec.Event, rec.Status, rec.Attempts, by),
	}, now, s.Retention)
	if err != nil {
		return err
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(s.Table), Key: rec.Key().attrs(s.Shards),
			UpdateExpression: aws.String(update), ConditionExpression: aws.String(cond),
			ExpressionAttributeNames: map[string]string{"#status": "status"}, ExpressionAttributeValues: values,
		}},
		{Put: &types.Put{TableName: aws.String(s.Table), Item: entry, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
	}})
	return err
}
