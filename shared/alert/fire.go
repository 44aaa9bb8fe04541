package alert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
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
	TenantID string   `dynamodbav:"tenantId"`
	// Event and Data (its JSON) are the alert as it fired, kept while it
	// is firing (in keyschema.FiringAlertsPK) so FinishStuck can complete
	// a run that died before queueing it.
	Event  string `dynamodbav:"event,omitempty"`
	Data   string `dynamodbav:"data,omitempty"`
	Firing string `dynamodbav:"GSI1PK,omitempty"`
}

// StuckAfter is how long a marker may stay "firing" before FinishStuck
// takes it for the remains of a run that died: a run queues an alert's
// deliveries within seconds.
const StuckAfter = 10 * time.Minute

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
	payload, err := json.Marshal(data)
	if err != nil {
		return false, err
	}
	mk := marker{State: "firing", FiredAt: isotime.Format(now), Webhooks: ids, TenantID: m.TenantID, Event: m.Event, Data: string(payload),
		Firing: keyschema.FiringAlertsPK(keyschema.Shard(k.PK+"|"+k.SK, keyschema.FiringAlertShards))}
	item, err := attributevalue.MarshalMap(mk)
	if err != nil {
		return false, err
	}
	for n, v := range k.Attrs() {
		item[n] = v
	}
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
	return true, f.finish(ctx, k, mk, delivery.Event{SourceID: sourceID(k), Name: m.Event, TenantID: m.TenantID, Time: mk.FiredAt, Data: data}, hooks)
}

// finish queues a firing marker's alert e to those of its webhooks that
// still exist (hooks), then sets it fired, out of the firing partition.
func (f *Firer) finish(ctx context.Context, k keyschema.Key, mk marker, e delivery.Event, hooks []webhook.Webhook) error {
	var to []webhook.Webhook
	for _, w := range hooks {
		if slices.Contains(mk.Webhooks, w.ID) { // else not subscribed when the alert fired, or deleted since
			to = append(to, w)
		}
	}
	// Each delivery record is its own write: 50 webhooks one after another
	// would be 50 round trips per alert.
	prepared := make([]*delivery.Key, len(to))
	err := parallel.Each(ctx, len(to), max(f.Concurrency, 1), func(ctx context.Context, i int) error {
		key, send, err := f.Deliveries.Prepare(ctx, to[i], e)
		if send {
			prepared[i] = &key
		}
		return err
	})
	if err != nil {
		return err
	}
	var keys []delivery.Key
	for _, k := range prepared {
		if k != nil {
			keys = append(keys, *k)
		}
	}
	if err := f.Deliveries.Send(ctx, keys); err != nil {
		return err
	}
	_, err = f.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(f.Table), Key: k.Attrs(),
		UpdateExpression:          aws.String("SET #state = :fired REMOVE #firing, #data"),
		ExpressionAttributeNames:  map[string]string{"#state": "state", "#firing": keyschema.ByResourcePK, "#data": "data"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":fired": &types.AttributeValueMemberS{Value: "fired"}},
	})
	return dynamo.Translate("mark alert fired", err)
}

// FinishStuck completes the alerts whose markers have been "firing" for
// StuckAfter (a run that died between its marker and its deliveries: a
// timeout, a crash, an outage it did not outlive), to the webhooks each
// named, as hooks lists them now (a downgraded tenant's: none, so the
// marker is only set fired). It returns how many it finished.
func (f *Firer) FinishStuck(ctx context.Context, now time.Time, hooks func(tenantID string) ([]webhook.Webhook, error)) (done int, failed error) {
	for shard := range keyschema.FiringAlertShards {
		var start map[string]types.AttributeValue
		for {
			out, err := f.DB.Query(ctx, &dynamodb.QueryInput{
				TableName: aws.String(f.Table), IndexName: aws.String(keyschema.ByResource),
				KeyConditionExpression:   aws.String("#pk = :pk"),
				FilterExpression:         aws.String("firedAt < :cutoff AND #state = :firing"),
				ExpressionAttributeNames: map[string]string{"#pk": keyschema.ByResourcePK, "#state": "state"},
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":pk":     &types.AttributeValueMemberS{Value: keyschema.FiringAlertsPK(shard)},
					":cutoff": &types.AttributeValueMemberS{Value: isotime.Format(now.Add(-StuckAfter))},
					":firing": &types.AttributeValueMemberS{Value: "firing"},
				},
				ExclusiveStartKey: start,
			})
			if err != nil {
				return done, errors.Join(failed, dynamo.Translate("read firing alerts", err))
			}
			for _, item := range out.Items {
				if ctx.Err() != nil {
					return done, errors.Join(failed, ctx.Err())
				}
				// One alert that cannot be finished now (its tenant's
				// webhooks unreadable, an outage) holds up no other: it
				// stays firing for the next pass.
				if err := f.finishItem(ctx, item, hooks); err != nil {
					slog.Error("an alert left firing could not be finished; the next pass tries again", "pk", str(item["PK"]), "sk", str(item["SK"]), "error", err.Error())
					failed = errors.Join(failed, err)
					continue
				}
				done++
			}
			if start = out.LastEvaluatedKey; start == nil {
				break
			}
		}
	}
	return done, failed
}

// finishItem finishes the alert of one firing marker item.
func (f *Firer) finishItem(ctx context.Context, item map[string]types.AttributeValue, hooks func(tenantID string) ([]webhook.Webhook, error)) error {
	var mk marker
	var k keyschema.Key
	if err := attributevalue.UnmarshalMap(item, &mk); err != nil {
		return err
	}
	if err := attributevalue.UnmarshalMap(item, &k); err != nil {
		return err
	}
	list, err := hooks(mk.TenantID)
	if err != nil {
		return err
	}
	e := delivery.Event{SourceID: sourceID(k), Name: mk.Event, TenantID: mk.TenantID, Time: mk.FiredAt, Data: json.RawMessage(mk.Data)}
	return f.finish(ctx, k, mk, e, list)
}

// str is a string attribute's value ("" if it is not one).
func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}
