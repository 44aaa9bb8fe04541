// Package streamrouter is StreamRouterFunction: it reads AssetsTable's stream,
// turns each change into events, and queues one delivery per subscribed,
// active webhook of the change's tenant.
package streamrouter

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uniasset/integrations/shared/assetevent"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/webhook"
)

// Router holds what the handler needs.
type Router struct {
	Webhooks *webhook.Store
	Enqueuer *delivery.Enqueuer
}

// Handle processes a batch in order. On the first record it cannot finish it
// reports that record's SequenceNumber: Lambda retries from there (bisecting on
// repeated errors), and deterministic delivery ids make the retry harmless.
func (r *Router) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	subscriptions := map[string][]webhook.Webhook{} // per tenant, for this batch
	for _, rec := range ev.Records {
		if err := r.route(ctx, rec, subscriptions); err != nil {
			slog.Error("stream record not routed; will be retried", "eventId", rec.EventID, "error", err.Error())
			return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{
				{ItemIdentifier: rec.Change.SequenceNumber},
			}}, nil
		}
	}
	return events.DynamoDBEventResponse{}, nil
}

func (r *Router) route(ctx context.Context, rec events.DynamoDBEventRecord, subscriptions map[string][]webhook.Webhook) error {
	evts, err := assetevent.FromRecord(rec)
	if err != nil {
		// An image we cannot read will not become readable on retry: log it and move on.
		slog.Error("undecodable stream record skipped", "eventId", rec.EventID, "error", err.Error())
		return nil
	}
	var jobs []delivery.Key
	for _, e := range evts {
		hooks, seen := subscriptions[e.TenantID]
		if !seen {
			if hooks, err = r.Webhooks.List(ctx, e.TenantID); err != nil {
				return err
			}
			subscriptions[e.TenantID] = hooks
		}
		for _, w := range hooks {
			if w.Status != webhook.Active || !w.Subscribes(e.Name) {
				continue // paused webhooks get nothing queued
			}
			k, send, err := r.Enqueuer.Prepare(ctx, w, e)
			if err != nil {
				return err
			}
			if send {
				jobs = append(jobs, k)
			}
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	return r.Enqueuer.Queue.Send(ctx, jobs)
}
