package adminapi

import (
	"net/http"
	"regexp"
	"time"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/httpapi"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/ratelimit"
	"github.com/uniasset/integrations/shared/webhook"
)

// recoveries bounds each webhook's recoveries: each may queue 10,000 deliveries.
var recoveries = ratelimit.Limit{Every: 12 * time.Minute, Burst: 5, Shards: 1}

var recoveryIDPattern = regexp.MustCompile(`^rcv_[0-9a-z]{26}$`)

// recoverWebhook queues again what a webhook missed: its failed deliveries
// in a window (delivery.Recoveries), answering 202 with the recovery.
func (a *API) recoverWebhook(w http.ResponseWriter, r *http.Request, u User) error {
	id, err := webhookID(r)
	if err != nil {
		return err
	}
	var in delivery.RecoverInput
	now := a.Now()
	var since, until string
	if err := httpapi.ReadValid(r, &in, func() (err error) { since, until, err = in.Window(now); return err }); err != nil {
		return err
	}
	hook, err := a.Webhooks.Get(r.Context(), u.TenantID, id)
	if err != nil {
		return err
	}
	if hook.Status != webhook.Active {
		return apierror.New(apierror.Conflict, "the webhook is %s; resume it first, then recover what it missed", hook.Status)
	}
	if err := a.admit(w, r, u.TenantID, keyschema.RateRecoveries(hook.ID), ratelimit.Policy{Name: "recoveries", Limit: recoveries}, now); err != nil {
		return err
	}
	at := isotime.Format(now)
	rec := delivery.Recovery{
		ID: delivery.NewRecoveryID(), TenantID: u.TenantID, WebhookID: hook.ID, Since: since, Until: until,
		State: delivery.RecoveryRunning, CreatedAt: at, CreatedBy: u.Subject, UpdatedAt: at,
	}
	if err := a.Recoveries.Start(r.Context(), rec, hook.Name); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/integrations/webhooks/"+hook.ID+"/recoveries/"+rec.ID)
	httpapi.WriteJSON(w, http.StatusAccepted, rec)
	return nil
}

// getRecovery shows a recovery's progress.
func (a *API) getRecovery(w http.ResponseWriter, r *http.Request, u User) error {
	id, err := webhookID(r)
	if err != nil {
		return err
	}
	rid := r.PathValue("recoveryId")
	if !recoveryIDPattern.MatchString(rid) {
		return apierror.New(apierror.NotFound, "no recovery %q", rid)
	}
	rec, err := a.Recoveries.Get(r.Context(), u.TenantID, id, rid)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, rec)
	return nil
}
