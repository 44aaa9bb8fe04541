package alert

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/metrics"
)

// Metrics the alerts write (embedded metric format; template.yaml alarms on each).
const (
	MetricItemsFailed      = "AlertItemsFailed"      // an item's alert failed for it alone: kept for a retry
	MetricRetriesAbandoned = "AlertRetriesAbandoned" // a kept alert stayed failing until it was too late to send
)

// Retry is an alert kept for a later pass: the watched date whose
// milestones failed to fire for their item alone. Keeping it lets
// a pass move its watermark past the date without losing the alert; each
// pass takes up the ones whose time has come, until they fire, their date
// no longer holds, or MaxLateness has passed (then it is given up, counted).
type Retry struct {
	Entry
	Attempts      int    `dynamodbav:"attempts"`
	NextAttemptAt string `dynamodbav:"nextAttemptAt"` // isotime
	FirstFailedAt string `dynamodbav:"firstFailedAt"`
	Reason        string `dynamodbav:"reason"` // why it last failed, without the item's values
}

// Retries keeps the alerts to retry in IntegrationsTable (keyschema.AlertRetry).
type Retries struct {
	DB    dynamo.API
	Table string
	// PK is the partition they are kept in; "" for keyschema.AlertRetryPK
	// (tests running passes as of other times keep theirs apart).
	PK string
}

func (r *Retries) pk() string {
	if r.PK == "" {
		return keyschema.AlertRetryPK
	}
	return r.PK
}

func (r *Retries) key(e Entry) keyschema.Key {
	k := keyschema.AlertRetry(e.TenantID, e.ID()+"#"+e.DueAt)
	k.PK = r.pk()
	return k
}

// RetryAfter is how long a kept alert waits before attempt n+1 (n attempts
// failed): a pass's interval, doubling, at most 6 hours, so an item that
// stays broken costs a few calls a day rather than one every pass.
func RetryAfter(n int) time.Duration {
	return min(15*time.Minute<<min(max(n-1, 0), 5), 6*time.Hour)
}

// Keep records that e's alerts failed (attempts before this one: prior),
// counts it and logs it with the ids (never the item's values).
func (r *Retries) Keep(ctx context.Context, e Entry, prior int, reason string, now time.Time) error {
	metrics.Count(slog.Default(), MetricItemsFailed, "alert failed for its item alone; kept for a retry",
		"tenantId", e.TenantID, "assetId", e.AssetID, "itemSK", e.ItemSK, "kind", string(e.Kind), "dueAt", e.DueAt, "attempt", prior+1, "reason", reason)
	item, err := attributevalue.MarshalMap(e)
	if err != nil {
		return err
	}
	due, _ := isotime.Parse(e.DueAt)
	values := map[string]types.AttributeValue{
		":n":      &types.AttributeValueMemberN{Value: strconv.Itoa(prior + 1)},
		":next":   &types.AttributeValueMemberS{Value: isotime.Format(now.Add(RetryAfter(prior + 1)))},
		":now":    &types.AttributeValueMemberS{Value: isotime.Format(now)},
		":reason": &types.AttributeValueMemberS{Value: reason},
		// Gone by itself once nothing could fire any more (DynamoDB's TTL).
		":ttl": &types.AttributeValueMemberN{Value: strconv.FormatInt(due.Add(MaxLateness+7*24*time.Hour).Unix(), 10)},
	}
	set := "SET attempts = :n, nextAttemptAt = :next, firstFailedAt = if_not_exists(firstFailedAt, :now), reason = :reason, expiresAt = :ttl"
	names := map[string]string{}
	for name, v := range item {
		names["#"+name], values[":"+name] = name, v
		set += ", #" + name + " = :" + name
	}
	_, err = r.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(r.Table), Key: r.key(e).Attrs(), UpdateExpression: aws.String(set),
		ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	})
	return dynamo.Translate("keep alert for a retry", err)
}

// All lists the kept alerts.
func (r *Retries) All(ctx context.Context) ([]Retry, error) {
	return queryDecoded[Retry](ctx, r.DB, &dynamodb.QueryInput{
		TableName:                 aws.String(r.Table),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: r.pk()}},
		ConsistentRead:            aws.Bool(true),
	}, "read alerts kept for a retry", "an alert kept for a retry")
}

// Due reports whether the kept alert's next attempt has come by now.
func (k Retry) Due(now time.Time) bool {
	at, err := isotime.Parse(k.NextAttemptAt)
	return err != nil || !at.After(now)
}

// Drop removes a kept alert: it fired, its date no longer holds, or it is
// given up.
func (r *Retries) Drop(ctx context.Context, e Entry) error {
	_, err := r.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(r.Table), Key: r.key(e).Attrs()})
	return dynamo.Translate("drop alert kept for a retry", err)
}
