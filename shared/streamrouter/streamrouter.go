// Package streamrouter is StreamRouterFunction: it reads AssetsTable's stream,
// turns each change into events, and queues one delivery per subscribed,
// active webhook of the change's tenant.
package streamrouter

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/smithy-go"

	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/assetevent"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/metrics"
	"github.com/uniasset/integrations/shared/parallel"
	"github.com/uniasset/integrations/shared/webhook"
)

// Deliveries records deliveries and queues them (delivery.Enqueuer).
type Deliveries interface {
	Prepare(ctx context.Context, w webhook.Webhook, e delivery.Event) (delivery.Key, bool, error)
	Send(ctx context.Context, keys []delivery.Key) error
}

// Arm keeps the due-date index in line with each change and fires alerts
// already due (alert.Arming).
type Arm interface {
	Change(ctx context.Context, old, cur *asset.Item, now time.Time, hooks func(tenantID string) ([]webhook.Webhook, error)) error
}

// Assets reads the asset an event of a record (maintenance, incident) is
// about, for scoped webhooks (asset.Items).
type Assets interface {
	Asset(ctx context.Context, tenantID, assetID string) (*asset.Item, error)
}

// MetricUnroutableEvents counts events skipped because a delivery of theirs
// cannot be recorded (webhook items that do not decode are counted by
// alert.CountUnreadable).
const MetricUnroutableEvents = "UnroutableEvents"

// Router holds what the handler needs.
type Router struct {
	Webhooks alert.Subscriptions
	Enqueuer Deliveries
	Alerts   Arm              // nil: no alerts (unit tests of routing alone)
	Assets   Assets           // nil: events of records match no scoped webhook
	Now      func() time.Time // the clock alerts are weighed by
	// Redrive is the sweep of StreamDLQ, run on a schedule.
	Redrive *Redrive
	// Concurrency bounds each fan-out of a batch: webhook lists per tenant,
	// items armed at once (and, within each, an alert's delivery records:
	// alert.Firer.Concurrency), then the events' delivery records.
	Concurrency int
}

// Invoke is the Lambda entry point: a batch of AssetsTable's stream, or the
// schedule's tick, which sweeps StreamDLQ.
func (r *Router) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err == nil && len(ev.Records) > 0 && ev.Records[0].EventSource == "aws:dynamodb" {
		return r.Handle(ctx, ev)
	}
	return r.SweepStreamDLQ(ctx)
}

// SweepStreamDLQ routes again what StreamDLQ holds (Redrive) and logs it.
func (r *Router) SweepStreamDLQ(ctx context.Context) (Redriven, error) {
	n, err := r.Redrive.Sweep(ctx)
	if n != (Redriven{}) {
		slog.Warn("StreamDLQ swept", "batches", n.Batches, "records", n.Records, "lost", n.Lost, "malformed", n.Malformed, "failed", n.Failed)
	}
	return n, err
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
	changes := make([]*assetevent.Change, len(ev.Records)) // nil: its images do not decode
	var tenantIDs []string
	seen := map[string]bool{}
	for i, rec := range ev.Records {
		// Each record is decoded once, for its events and its alerts.
		c, err := assetevent.ChangeOf(rec)
		if err == nil {
			changes[i] = &c
		}
		var evts []delivery.Event
		if err == nil {
			evts, err = assetevent.Events(c)
		}
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

	// Subscriptions, one consistent list per tenant of the batch. A webhook
	// whose item does not decode gets nothing (its URL and events are not
	// known) and holds up nothing: it is counted and alarmed, and the
	// tenant's other webhooks get their events and alerts.
	tenants := map[string][]webhook.Webhook{}
	listErr := map[string]error{}
	var mu sync.Mutex
	list := func(t string) {
		hooks, bad, err := r.Webhooks.ListReadable(ctx, t)
		alert.CountUnreadable(t, bad)
		mu.Lock()
		defer mu.Unlock()
		tenants[t], listErr[t] = hooks, err
	}
	if err := parallel.Each(ctx, len(tenantIDs), max(r.Concurrency, 1), func(_ context.Context, i int) error {
		list(tenantIDs[i]) // a failure is the tenant's listErr, not the batch's
		return nil
	}); err != nil {
		return events.DynamoDBEventResponse{}, err // the invocation ended: tenants not listed would look subscribed to nothing
	}

	// Alerts: the index follows each change, and what a change makes due
	// fires now (an alert failing for its item alone is kept for
	// the passes to retry, not failed). A tenant not listed above is listed
	// on demand.
	if r.Alerts != nil {
		hooks := func(t string) ([]webhook.Webhook, error) {
			mu.Lock()
			_, listed := listErr[t] // list sets it, error or not
			mu.Unlock()
			if !listed {
				list(t)
			}
			mu.Lock()
			defer mu.Unlock()
			return tenants[t], listErr[t]
		}
		// Records of one item stay in order (its index entries follow each
		// change); different items are armed at once, so a batch of due
		// records waits for the slowest item rather than the sum of them.
		var items []string
		byItem := map[string][]int{}
		for i, rec := range ev.Records {
			k := itemKey(rec)
			if byItem[k] == nil {
				items = append(items, k)
			}
			byItem[k] = append(byItem[k], i)
		}
		if err := parallel.Each(ctx, len(items), max(r.Concurrency, 1), func(ctx context.Context, n int) error {
			for _, i := range byItem[items[n]] {
				c := changes[i]
				if c == nil {
					continue // undecodable, as above: skipped
				}
				if err := r.Alerts.Change(ctx, c.Old, c.New, r.Now(), hooks); err != nil {
					mu.Lock()
					fail(i, err)
					mu.Unlock()
					return nil // the item's later records wait for the retry from this one
				}
			}
			return nil
		}); err != nil {
			return events.DynamoDBEventResponse{}, err // the invocation ended: items not reached were not armed
		}
	}

	if err := r.resolveAssets(ctx, perRecord, tenants, listErr, fail); err != nil {
		return events.DynamoDBEventResponse{}, err // the invocation ended: assets not read would match no scope
	}

	var jobs []*job
	for i, evts := range perRecord {
		for _, e := range evts {
			if err := listErr[e.TenantID]; err != nil {
				fail(i, err)
				continue
			}
			for _, w := range tenants[e.TenantID] {
				if w.Wants(e.Name, e.Asset) { // paused webhooks get nothing queued
					jobs = append(jobs, &job{rec: i, w: w, event: e})
				}
			}
		}
	}
	if err := parallel.Each(ctx, len(jobs), max(r.Concurrency, 1), func(ctx context.Context, i int) error {
		if j := jobs[i]; j.rec < failed { // failed no longer moves while they run
			j.key, j.send, j.err = r.Enqueuer.Prepare(ctx, j.w, j.event)
		}
		return nil // each job's error is its own (j.err)
	}); err != nil {
		return events.DynamoDBEventResponse{}, err // the invocation ended: jobs not reached were not recorded
	}

	var keys []delivery.Key
	for _, j := range jobs {
		if reason, ok := alert.Poisoned(j.err); ok && tooLarge(j.err) {
			// The event's own fault (its delivery record would exceed
			// DynamoDB's item limit): a retry fails the same way and would
			// hold the shard for every tenant on it, so it is skipped,
			// counted and alarmed.
			metrics.Count(slog.Default(), MetricUnroutableEvents, "an event cannot be recorded for a webhook; skipped", "tenantId", j.event.TenantID,
				"webhookId", j.w.ID, "event", j.event.Name, "eventId", ev.Records[j.rec].EventID, "reason", reason)
			continue
		}
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

// resolveAssets reads the asset of each event that names only its id
// (maintenance and incident records) when a scoped webhook of its tenant
// wants that event, so the scope can be matched: each asset once per batch,
// as it is now. An asset that is gone matches no scope. A failed read fails
// the records that needed it.
func (r *Router) resolveAssets(ctx context.Context, perRecord [][]delivery.Event, tenants map[string][]webhook.Webhook,
	listErr map[string]error, fail func(int, error)) error {
	type ref struct{ tenantID, assetID string }
	var refs []ref
	users := map[ref][]*delivery.Event{}
	recs := map[ref][]int{}
	for i, evts := range perRecord {
		for j := range evts {
			e := &evts[j]
			if e.Asset != nil || e.AssetID == "" || listErr[e.TenantID] != nil || !scopedFor(tenants[e.TenantID], e.Name) {
				continue
			}
			k := ref{e.TenantID, e.AssetID}
			if users[k] == nil {
				refs = append(refs, k)
			}
			users[k] = append(users[k], e)
			recs[k] = append(recs[k], i)
		}
	}
	if r.Assets == nil || len(refs) == 0 {
		return nil
	}
	var mu sync.Mutex
	return parallel.Each(ctx, len(refs), max(r.Concurrency, 1), func(ctx context.Context, n int) error {
		k := refs[n]
		item, err := r.Assets.Asset(ctx, k.tenantID, k.assetID)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			for _, i := range recs[k] {
				fail(i, err)
			}
			return nil
		}
		if item != nil && item.Asset != nil {
			for _, e := range users[k] {
				e.Asset = item.Asset
			}
		}
		return nil
	})
}

// scopedFor reports whether an active webhook with a scope subscribes to event.
func scopedFor(hooks []webhook.Webhook, event string) bool {
	return slices.ContainsFunc(hooks, func(w webhook.Webhook) bool {
		return w.Status == webhook.Active && w.Subscribes(event) && !w.Scope.Empty()
	})
}

// tooLarge reports whether DynamoDB refused a write for its item's size:
// that event's own fault. Any other refusal (a bad deploy's expression)
// would meet every event and fails the record, to be retried.
func tooLarge(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationException" && strings.Contains(ae.ErrorMessage(), "Item size")
}

// itemKey names the item a record changed (its table keys).
func itemKey(rec events.DynamoDBEventRecord) string {
	return rec.Change.Keys["PK"].String() + "\x00" + rec.Change.Keys["SK"].String()
}
