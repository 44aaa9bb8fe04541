package adminapi

import (
	"errors"
	"net/http"

	"github.com/uniasset/integrations/shared/activity"
	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/httpapi"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/ratelimit"
	"github.com/uniasset/integrations/shared/webhook"
)

// resendDelivery sends a delivery again from its Activity Log row: one more
// attempt under its own webhook-id (delivery.Enqueuer.Resend), counted
// against its webhook's resends.
func (a *API) resendDelivery(w http.ResponseWriter, r *http.Request, u User) error {
	ctx := r.Context()
	id := r.PathValue("id")
	k, err := activity.DeliveryKey(u.TenantID, id)
	if err != nil {
		return err
	}
	rec, found, err := a.Enqueuer.Store.Get(ctx, k)
	if err != nil {
		return err
	}
	if !found {
		return apierror.New(apierror.NotFound, "no delivery %q", id)
	}
	hook, err := a.Webhooks.Get(ctx, u.TenantID, rec.WebhookID)
	var apiErr *apierror.Error
	if errors.As(err, &apiErr) && apiErr.Code == apierror.NotFound {
		return apierror.New(apierror.Conflict, "the webhook of this delivery was deleted")
	}
	if err != nil {
		return err
	}
	if hook.Status != webhook.Active {
		return apierror.New(apierror.Conflict, "the webhook is %s; resume it to resend its deliveries", hook.Status)
	}
	now := a.Now()
	if err := a.admit(w, r, u.TenantID, keyschema.RateResends(hook.ID), ratelimit.Policy{Name: "resends", Limit: a.Resends}, now); err != nil {
		return err
	}
	rec, err = a.Enqueuer.Resend(ctx, rec, u.Subject, now)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusAccepted, map[string]any{
		"id": id, "deliveryId": rec.DeliveryID, "webhookId": rec.WebhookID, "event": rec.Event,
		"status": rec.Status, "attempts": rec.Attempts,
	})
	return nil
}
