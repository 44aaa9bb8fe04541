package alert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/parallel"
	"github.com/uniasset/integrations/shared/webhook"
)

// Deliveries records deliveries and queues them (delivery.Enqueuer).
type Deliveries interface {
	Prepare(ctx context.Context, w webhook.Webhook, e delivery.Event) (delivery.Key, bool, error)
	Send(ctx context.Context, keys []delivery.Key) error
}

// Firer sends a milestone's alert once, ever, to the webhooks subscribed to
// it when it fires.
//
// A marker (keyschema.AlertMarker) is written first, with a condition that
// it is new, naming the webhooks that get the alert and when it fired; then
// one delivery per webhook, each with an id derived from the marker; then
// the marker is set "fired". Whoever finds the marker already there — an
// overlapping pass, a retried one, the stream and a pass at once — carries
// on from it: a marker still "firing" belonged to a run that may have died
// before queueing, so its deliveries are made (or found, by their ids) and
// queued again, to the same webhooks; a "fired" one means there is nothing
// to do. A webhook created after the marker does not get the alert.
type Firer struct {
	DB         dynamo.API
	Table      string
	Deliveries Deliveries
	// Concurrency bounds the delivery records one alert writes at once (0: one).
	Concurrency int
}

// marker is the stored record of a milestone that fired.
type marker struct {
	State    string   `dynamodbav:"state"` // firing, then fired
	FiredAt  string   `dynamodbav:"firedAt"`
	Webhooks []string `dynamodbav:"webhooks"`
}

// held is the marker a refused put met: from the refusal when it carries
// the item, else read.
func (f *Firer) held(ctx context.Context, k keyschema.Key, refusal error) (marker, error) {
	item, _ := dynamo.Refused(refusal)
	if item == nil {
		out, err := f.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(f.Table), Key: k.Attrs(), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return marker{}, dynamo.Translate("read alert marker", err)
		}
		item = out.Item
	}
	var m marker
	err := attributevalue.UnmarshalMap(item, &m)
	return m, err
}

// sourceID names the milestone, as a stream record's id names a change:
// delivery ids derive from it.
func sourceID(k keyschema.Key) string {
	sum := sha256.Sum256([]byte(k.PK + "|" + k.SK))
	return "alert_" + hex.EncodeToString(sum[:16])
}

// Fire sends m's alert with data to the tenant's active webhooks subscribed
// to its event whose scope takes its asset (hooks: the tenant's webhooks,
// listed by the caller). It
// reports whether the alert was queued now (false: it fired before, or no
// webhook wants it).
func (f *Firer) Fire(ctx context.Context, m Milestone, data Data, hooks []webhook.Webhook, now time.Time) (bool, error) {
	var ids []string
	for _, w := range hooks {
		if w.Wants(m.Event, data.about) {
			ids = append(ids, w.ID)
		}
	}
	if len(ids) == 0 {
		// No one to tell: nothing is recorded, so a webhook made before the
		// date passes still gets the alert if the milestone is met again.
		return false, nil
	}
	k := keyschema.AlertMarker(m.TenantID, m.AssetID, m.ItemSK, m.Event, m.DueAt)
	mk := marker{State: "firing", FiredAt: isotime.Format(now), Webhooks: ids}
	item, err := attributevalue.MarshalMap(mk)
	if err != nil {
		return false, err
	}
	for n, v := range k.Attrs() {
		item[n] = v
	}
	item["tenantId"] = &types.AttributeValueMemberS{Value: m.TenantID}
	_, err = f.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(f.Table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	switch {
	case err == nil:
	case dynamo.ConditionFailed(err):
		held, err := f.held(ctx, k, err)
		if err != nil || held.State == "fired" {
			return false, err
		}
		mk = held // a run that stopped short: finish it, to its webhooks, with its time
	default:
		return false, dynamo.Translate("mark alert", err)
	}

	e := delivery.Event{SourceID: sourceID(k), Name: m.Event, TenantID: m.TenantID, Time: mk.FiredAt, Data: data}
	var to []webhook.Webhook
	for _, w := range hooks {
		if slices.Contains(mk.Webhooks, w.ID) { // else not subscribed when the alert fired, or deleted since
			to = append(to, w)
		}
	}
	// Each delivery record is its own write: 50 webhooks one after another
	// would be 50 round trips per alert.
	prepared := make([]*delivery.Key, len(to))
	err = parallel.Each(ctx, len(to), max(f.Concurrency, 1), func(ctx context.Context, i int) error {
		key, send, err := f.Deliveries.Prepare(ctx, to[i], e)
		if send {
			prepared[i] = &key
		}
		return err
	})
	if err != nil {
		return false, err
	}
	var keys []delivery.Key
	for _, k := range prepared {
		if k != nil {
			keys = append(keys, *k)
		}
	}
	if err := f.Deliveries.Send(ctx, keys); err != nil {
		return false, err
	}
	_, err = f.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(f.Table), Key: k.Attrs(),
		UpdateExpression:          aws.String("SET #state = :fired"),
		ExpressionAttributeNames:  map[string]string{"#state": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":fired": &types.AttributeValueMemberS{Value: "fired"}},
	})
	return true, dynamo.Translate("mark alert fired", err)
}
