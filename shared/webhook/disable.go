package webhook

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/systemlog"
)

// DisabledEvent is the event the tenant's other webhooks may subscribe to.
const DisabledEvent = "webhook.disabled"

// DisableRule is when an endpoint that keeps failing is disabled: every
// attempt has failed for After, and failures were seen on at least
// disableMarks occasions at least Spacing apart (a burst of errors is one
// occasion, so a receiver fixed after a bad hour and failing once days
// later is not disabled for it). After 0 never disables.
type DisableRule struct {
	After, Spacing time.Duration
}

// disableMarks is how many occasions of failure, Spacing apart, a streak
// needs: with the defaults, failing on day 0, still on day 0.5 and still on
// day 5.
const disableMarks = 3

// Judge weighs a failed attempt of w at now: whether it is a new occasion
// of its failing streak (mark: at least Spacing after the last), and
// whether w is to be disabled. w's streak is FailingSince, set when its
// badge turned failing; an attempt before that is judged by the next.
func (r DisableRule) Judge(w Webhook, now time.Time) (mark, disable bool) {
	if r.After <= 0 || w.Status != Active {
		return false, false
	}
	since, err := isotime.Parse(w.FailingSince)
	if err != nil {
		return false, false
	}
	last, err := isotime.Parse(w.FailMarkAt)
	if err != nil {
		last = since
	}
	marks := max(w.FailMarks, 1) // the streak's first failure is its first occasion
	if mark = now.Sub(last) >= r.Spacing; mark {
		marks++
	}
	return mark, marks >= disableMarks && now.Sub(since) >= r.After
}

// Mark records a new occasion of w's failing streak at now, unless another
// attempt recorded one since w was read or the streak ended; it reports
// whether it wrote. One write per Spacing per webhook at most.
func (s *Store) Mark(ctx context.Context, w Webhook, now time.Time) (bool, error) {
	values := map[string]types.AttributeValue{
		":fs": &types.AttributeValueMemberS{Value: w.FailingSince}, ":now": &types.AttributeValueMemberS{Value: isotime.Format(now)},
		":one": &types.AttributeValueMemberN{Value: "1"},
	}
	cond := "failingSince = :fs AND attribute_not_exists(failMarkAt)"
	if w.FailMarkAt != "" {
		cond = "failingSince = :fs AND failMarkAt = :prev"
		values[":prev"] = &types.AttributeValueMemberS{Value: w.FailMarkAt}
	}
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: itemKey(w.TenantID, w.ID),
		UpdateExpression: aws.String("SET failMarkAt = :now ADD failMarks :one"), ConditionExpression: aws.String(cond),
		ExpressionAttributeValues: values,
	})
	if dynamo.ConditionFailed(err) {
		return false, nil
	}
	return err == nil, dynamo.Translate("mark a failing webhook", err)
}

// Disable sets w disabled at now, if it is still active in the same failing
// streak, with a System entry saying why, in one transaction; it reports
// whether it did (false: a resume, a pause, a success or another
// dispatcher got there first).
func (s *Store) Disable(ctx context.Context, w Webhook, now time.Time, lastError string) (bool, error) {
	at := isotime.Format(now)
	since, _ := isotime.Parse(w.FailingSince)
	entry, err := systemlog.Item(systemlog.Entry{
		TenantID: w.TenantID, Event: DisabledEvent, ResourceType: "webhook", ResourceID: w.ID, ResourceName: w.Name, Status: Disabled,
		Details: fmt.Sprintf("every attempt failed since %s (%s); disabled: nothing more is queued until it is resumed. Last error: %s",
			w.FailingSince, now.Sub(since).Round(time.Hour), lastError),
	}, now, s.Retention)
	if err != nil {
		return false, err
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(s.Table), Key: itemKey(w.TenantID, w.ID),
			UpdateExpression:         aws.String("SET #status = :disabled, disabledAt = :at, updatedAt = :at ADD #revision :one"),
			ConditionExpression:      aws.String("#status = :active AND failingSince = :fs"),
			ExpressionAttributeNames: map[string]string{"#status": "status", "#revision": "revision"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":disabled": &types.AttributeValueMemberS{Value: Disabled}, ":active": &types.AttributeValueMemberS{Value: Active},
				":at": &types.AttributeValueMemberS{Value: at}, ":fs": &types.AttributeValueMemberS{Value: w.FailingSince},
				":one": &types.AttributeValueMemberN{Value: "1"},
			},
		}},
		{Put: &types.Put{TableName: aws.String(s.Table), Item: entry, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
	}})
	if dynamo.ConditionFailed(err) {
		return false, nil
	}
	return err == nil, dynamo.Translate("disable webhook", err)
}

// Notified records that the tenant's other webhooks were told w was
// disabled (their webhook.disabled deliveries are queued).
func (s *Store) Notified(ctx context.Context, w Webhook) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: itemKey(w.TenantID, w.ID),
		UpdateExpression:          aws.String("SET disabledNotified = :t"),
		ConditionExpression:       aws.String("disabledAt = :at"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}, ":at": &types.AttributeValueMemberS{Value: w.DisabledAt}},
	})
	if dynamo.ConditionFailed(err) {
		return nil // resumed meanwhile
	}
	return dynamo.Translate("record webhook.disabled sent", err)
}

// DisabledData is webhook.disabled's data.
type DisabledData struct {
	WebhookID    string `json:"webhookId"`
	WebhookName  string `json:"webhookName"`
	URL          string `json:"url"`
	FailingSince string `json:"failingSince"`
	DisabledAt   string `json:"disabledAt"`
}

// DisabledSourceID names one disabling of w, as a stream record's id names
// a change: the deliveries telling the other webhooks derive their ids
// from it, so telling them twice queues nothing twice.
func DisabledSourceID(w Webhook) string {
	return "disabled_" + w.ID + "_" + w.DisabledAt
}
