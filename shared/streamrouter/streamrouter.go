// Package streamrouter is StreamRouterFunction: it reads AssetsTable's stream,
// turns each change into events, and queues one delivery per subscribed,
// active webhook of the change's tenant.
package streamrouter

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/assetevent"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/webhook"
)

// Subscriptions lists a tenant's webhooks (webhook.Store).
type Subscriptions interface {
	List(ctx context.Context, tenantID string) ([]webhook.Webhook, error)
}

// Deliveries records deliveries and queues them (delivery.Enqueuer).
type Deliveries interface {
	Prepare(ctx context.Context, w webhook.Webhook, e delivery.Event) (delivery.Key, bool, error)
	Send(ctx context.Context, keys []delivery.Key) error
}

// Arm keeps the due-date index in line with each change and fires alerts
// already due (alert.Arming).
type Arm interface {
	Change(ctx context.Context, old, cur map[string]types.AttributeValue, now time.Time, hooks func(tenantID string) ([]webhook.Webhook, error)) error
}

// Router holds what the handler needs.
type Router struct {
	Webhooks Subscriptions
	Enqueuer Deliveries
	Alerts   Arm              // nil: no alerts (unit tests of routing alone)
	Now      func() time.Time // the clock alerts are weighed by
	// Concurrency bounds the DynamoDB calls a batch makes at once (webhook
	// lists per tenant, then delivery records).
	Concurrency int
}

// job is one delivery to prepare: an event of record rec for webhook w.
type job struct {
	rec   int
	w     webhook.Webhook
	event delivery.Event
	key   delivery.Key
	send  bool
	err   error
}

// Handle routes a batch. It lists each tenant's webhooks once, prepares every
// delivery record of the batch with bounded concurrency, then queues the
// messages ten to a SendMessageBatch across records. If a record cannot be
// routed, the records before it are queued and its SequenceNumber is
// reported: Lambda retries from there (bisecting on repeated errors), and
// deterministic delivery ids make the retry harmless.
func (r *Router) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	failed := len(ev.Records) // index of the first record that cannot be routed
	fail := func(i int, err error) {
		if i < failed {
			failed = i
			slog.Error("stream record not routed; will be retried", "eventId", ev.Records[i].EventID, "error", err.Error())
		}
	}
	perRecord := make([][]delivery.Event, len(ev.Records))
	var tenantIDs []string
	seen := map[string]bool{}
	for i, rec := range ev.Records {
		evts, err := assetevent.FromRecord(rec)
		if err != nil {
			// An image we cannot read will not become readable on retry: log it and move on.
			slog.Error("undecodable stream record skipped", "eventId", rec.EventID, "error", err.Error())
			continue
		}
		perRecord[i] = evts
		for _, e := range evts {
			if !seen[e.TenantID] {
				seen[e.TenantID] = true
				tenantIDs = append(tenantIDs, e.TenantID)
			}
		}
	}

	// Subscriptions, one consistent list per tenant of the batch.
	tenants := map[string][]webhook.Webhook{}
	listErr := map[string]error{}
	var mu sync.Mutex
	r.each(len(tenantIDs), func(run func(func())) {
		for _, t := range tenantIDs {
			run(func() {
				hooks, err := r.Webhooks.List(ctx, t)
				mu.Lock()
				tenants[t], listErr[t] = hooks, err
				mu.Unlock()
			})
		}
	})

	// Alerts: the index follows each change, in record order, and what a
	// change makes due fires now. A tenant not listed above is listed on demand.
	if r.Alerts != nil {
		hooks := func(t string) ([]webhook.Webhook, error) {
			mu.Lock()
			hs, listed, err := tenants[t], seen[t], listErr[t]
			mu.Unlock()
			if listed {
				return hs, err
			}
			hs, err = r.Webhooks.List(ctx, t)
			mu.Lock()
			tenants[t], listErr[t], seen[t] = hs, err, true
			mu.Unlock()
			return hs, err
		}
		for i, rec := range ev.Records {
			if i >= failed {
				break
			}
			old, cur, err := assetevent.Images(rec)
			if err != nil {
				continue // undecodable, as above: skipped
			}
			if err := r.Alerts.Change(ctx, old, cur, r.Now(), hooks); err != nil {
				fail(i, err)
			}
		}
	}

	var jobs []*job
	for i, evts := range perRecord {
		for _, e := range evts {
			if err := listErr[e.TenantID]; err != nil {
				fail(i, err)
				continue
			}
			for _, w := range tenants[e.TenantID] {
				if w.Status == webhook.Active && w.Subscribes(e.Name) { // paused webhooks get nothing queued
					jobs = append(jobs, &job{rec: i, w: w, event: e})
				}
			}
		}
	}
	r.each(len(jobs), func(run func(func())) {
		for _, j := range jobs {
			if j.rec >= failed {
				continue
			}
			run(func() { j.key, j.send, j.err = r.Enqueuer.Prepare(ctx, j.w, j.event) })
		}
	})

	var keys []delivery.Key
	for _, j := range jobs {
		if j.err != nil {
			fail(j.rec, j.err)
		}
	}
	for _, j := range jobs {
		if j.rec < failed && j.send {
			keys = append(keys, j.key)
		}
	}
	if err := r.Enqueuer.Send(ctx, keys); err != nil {
		// Which entries went out is unknown: retry the batch from its start
		// (messages already sent are duplicates the dispatcher's claim absorbs).
		fail(0, err)
	}
	if failed == len(ev.Records) {
		return events.DynamoDBEventResponse{}, nil
	}
	return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{
		{ItemIdentifier: ev.Records[failed].Change.SequenceNumber},
	}}, nil
}

// each runs the functions given to run, at most Concurrency at a time, and
// waits for all of them.
func (r *Router) each(n int, body func(run func(func()))) {
	if n == 0 {
		return
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(r.Concurrency, 1))
	body(func(f func()) {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f()
		})
	})
	wg.Wait()
}
