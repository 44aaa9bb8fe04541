package delivery

import (
	"context"
	"log/slog"
	"time"

	"github.com/uniasset/integrations/shared/compact"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/retention"
	"github.com/uniasset/integrations/shared/webhook"
)

// Enqueuer records deliveries and queues them.
type Enqueuer struct {
	Store *Store
	Queue *Queue
	Now   func() time.Time
}

// NewEnqueuer records deliveries in IntegrationsTable (table, write-sharded
// over shards, kept as keep says) and queues them on the delivery queue
// (url), by the real clock.
func NewEnqueuer(db dynamo.API, queue SQSAPI, table string, shards int, url string, keep retention.Policy) *Enqueuer {
	return &Enqueuer{Store: &Store{DB: db, Table: table, Shards: shards, Retention: keep}, Queue: &Queue{SQS: queue, URL: url}, Now: time.Now}
}

// Prepare makes (or finds) the delivery of e to w and reports whether it must
// be queued: a new record, or an existing one never attempted (the process
// that made it may have died before queueing it). A duplicate message is
// harmless: the dispatcher's claim lets one copy send each attempt.
func (q *Enqueuer) Prepare(ctx context.Context, w webhook.Webhook, e Event) (Key, bool, error) {
	body, err := e.Payload()
	if err != nil {
		return Key{}, false, err
	}
	id := ID(e.SourceID, e.Name, w.ID)
	at := isotime.Format(q.Now())
	shard := Shard(id, q.Store.Shards)
	r := Record{
		TenantID: w.TenantID, DeliveryID: id, WebhookID: w.ID, WebhookName: w.Name, Event: e.Name, SourceID: e.SourceID,
		Test: e.Test, Payload: compact.Text(body), Status: Pending, CreatedAt: at, UpdatedAt: at, History: []Attempt{},
		SK: keyschema.DeliverySK(e.Time, id), PK: keyschema.DeliveryPK(w.TenantID, shard),
		ExpiresAt: q.Store.Retention.ExpiresAt(q.Now()),
	}
	created, existing, err := q.Store.CreateIfNew(ctx, r)
	if err != nil {
		return Key{}, false, err
	}
	if created {
		return r.Key(), true, nil
	}
	return existing.Key(), existing.Status == Pending && existing.Attempts == 0, nil
}

// Send queues prepared deliveries, ten to a SendMessageBatch.
func (q *Enqueuer) Send(ctx context.Context, keys []Key) error { return q.Queue.Send(ctx, keys) }

// Enqueue prepares and queues one delivery (the admin API's test event).
func (q *Enqueuer) Enqueue(ctx context.Context, w webhook.Webhook, e Event) (Key, error) {
	k, send, err := q.Prepare(ctx, w, e)
	if err != nil || !send {
		return k, err
	}
	return k, q.SendOrEnd(ctx, []Key{k}, "it could not be queued; send it again")
}

// SendOrEnd queues deliveries whose records say pending, and if the queue
// refuses them ends them failed with reason: a caller that answers an error
// (a test event, a resend, a recovery's step) may never try again, and a
// pending record without a message would wait for ever. One sent before
// the refusal (SendMessageBatch sends ten at a time) finds its delivery
// ended and is dropped by the dispatcher; the Owner can resend it.
func (q *Enqueuer) SendOrEnd(ctx context.Context, keys []Key, reason string) error {
	err := q.Queue.Send(ctx, keys)
	if err == nil {
		return nil
	}
	end := context.WithoutCancel(ctx)
	for _, k := range keys {
		if _, derr := q.Store.Discard(end, k, reason, q.Now()); derr != nil {
			slog.Error("a delivery that could not be queued stays pending", "tenantId", k.TenantID, "deliveryId", k.DeliveryID, "error", derr.Error())
		}
	}
	return err
}
