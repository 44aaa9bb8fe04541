package delivery

import (
	"context"
	"log/slog"
	"time"

	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/metrics"
	"github.com/uniasset/integrations/shared/webhook"
)

// judgeFailure weighs a failed attempt of w against the disable rule: a new
// occasion of its failing streak is recorded (at most once per Spacing),
// and a webhook whose streak has lasted long enough is disabled and the
// tenant's other webhooks told. Trouble here is logged, not returned: the
// attempt itself is recorded, and the next failure judges again.
func (d *Dispatcher) judgeFailure(ctx context.Context, w webhook.Webhook, lastError string, now time.Time, log *slog.Logger) {
	mark, disable := d.Disable.Judge(w, now)
	switch {
	case disable:
		done, err := d.Webhooks.Disable(ctx, w, now, lastError)
		if err != nil || !done {
			if err != nil {
				log.Warn("disabling a failing webhook failed", "webhookId", w.ID, "error", err.Error())
			}
			return
		}
		metrics.Count(log, "DisabledWebhooks", "webhook disabled after sustained failure", "webhookId", w.ID, "failingSince", w.FailingSince)
		w.Status, w.DisabledAt = webhook.Disabled, isotime.Format(now)
		d.hooks.update(w, func(e *cachedHook) { e.hook.Status, e.hook.DisabledAt = w.Status, w.DisabledAt })
		d.notifyDisabled(ctx, w, log)
	case mark:
		wrote, err := d.Webhooks.Mark(ctx, w, now)
		if err != nil {
			log.Warn("recording a failing webhook's occasion failed", "webhookId", w.ID, "error", err.Error())
		}
		if wrote {
			d.hooks.update(w, func(e *cachedHook) { e.hook.FailMarks, e.hook.FailMarkAt = max(w.FailMarks, 1)+1, isotime.Format(now) })
		}
	}
}

// notifyDisabled queues webhook.disabled for the tenant's other active
// webhooks that subscribe to it, once: the deliveries' ids derive from the
// disabling, and the webhook records that they are queued. Until it does,
// each delivery of the webhook that the dispatcher discards tries again.
func (d *Dispatcher) notifyDisabled(ctx context.Context, w webhook.Webhook, log *slog.Logger) {
	hooks, _, err := d.Webhooks.ListReadable(ctx, w.TenantID)
	if err != nil {
		log.Warn("listing webhooks to tell of a disabled one failed", "webhookId", w.ID, "error", err.Error())
		return
	}
	e := Event{
		SourceID: webhook.DisabledSourceID(w), Name: webhook.DisabledEvent, TenantID: w.TenantID, Time: w.DisabledAt,
		Data: webhook.DisabledData{WebhookID: w.ID, WebhookName: w.Name, URL: w.URL, FailingSince: w.FailingSince, DisabledAt: w.DisabledAt},
	}
	enq := &Enqueuer{Store: d.Deliveries, Queue: d.Queue, Now: d.Now}
	var keys []Key
	for _, h := range hooks {
		if h.ID == w.ID || h.Status != webhook.Active || !h.Subscribes(e.Name) {
			continue
		}
		k, send, err := enq.Prepare(ctx, h, e)
		if err != nil {
			log.Warn("recording webhook.disabled failed", "webhookId", w.ID, "to", h.ID, "error", err.Error())
			return
		}
		if send {
			keys = append(keys, k)
		}
	}
	if err := enq.Send(ctx, keys); err != nil {
		log.Warn("queueing webhook.disabled failed", "webhookId", w.ID, "error", err.Error())
		return
	}
	if err := d.Webhooks.Notified(ctx, w); err != nil {
		log.Warn("recording webhook.disabled sent failed", "webhookId", w.ID, "error", err.Error())
		return
	}
	d.hooks.update(w, func(e *cachedHook) { e.hook.DisabledNotified = true })
}
