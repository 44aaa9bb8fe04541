package alert

import (
	"context"
	"log/slog"

	"github.com/uniasset/integrations/shared/metrics"
	"github.com/uniasset/integrations/shared/tenant"
	"github.com/uniasset/integrations/shared/webhook"
)

// Subscriptions lists a tenant's webhooks for a fan-out (webhook.Store),
// leaving out and reporting any whose item does not decode.
type Subscriptions interface {
	ListReadable(ctx context.Context, tenantID string) ([]webhook.Webhook, []webhook.Unreadable, error)
}

// MetricUnreadableWebhooks counts webhook items a fan-out (the stream
// router's events and alerts, a pass, the backfill) found that do not
// decode; template.yaml alarms on it.
const MetricUnreadableWebhooks = "UnreadableWebhooks"

// CountUnreadable logs and counts each webhook of tenantID whose item does
// not decode. Such a webhook gets nothing (its URL and events are not
// known) and holds up nothing: the tenant's other webhooks get their events
// and alerts, as another tenant's would.
func CountUnreadable(tenantID string, bad []webhook.Unreadable) {
	for _, b := range bad {
		reason, _ := Poisoned(b.Err) // in words that carry none of the item's values (its secret is one)
		metrics.Count(slog.Default(), MetricUnreadableWebhooks, "a webhook item does not decode: it gets nothing until it is fixed", "tenantId", tenantID, "webhookId", b.ID, "reason", reason)
	}
}

// readable lists tenantID's webhooks that decode, counting the others.
func readable(ctx context.Context, s Subscriptions, tenantID string) ([]webhook.Webhook, error) {
	hooks, bad, err := s.ListReadable(ctx, tenantID)
	CountUnreadable(tenantID, bad)
	return hooks, err
}

// Plans reads a tenant's profile (tenant.Store).
type Plans interface {
	Get(ctx context.Context, tenantID string) (tenant.Profile, error)
}

// Entitled lists a tenant's webhooks only while its plan includes them
// (Enterprise): a tenant the main app moves to a lower plan gets no events
// and no alerts from then on, though its webhooks stay for its Owner to
// see, pause or delete. One consistent read of the profile per listing.
type Entitled struct {
	Subscriptions
	Plans Plans
}

// ListReadable lists tenantID's webhooks, or none below Enterprise.
func (e Entitled) ListReadable(ctx context.Context, tenantID string) ([]webhook.Webhook, []webhook.Unreadable, error) {
	p, err := e.Plans.Get(ctx, tenantID)
	if err != nil {
		return nil, nil, err
	}
	if !p.Plan.AtLeast(tenant.Enterprise) {
		return nil, nil, nil
	}
	return e.Subscriptions.ListReadable(ctx, tenantID)
}
