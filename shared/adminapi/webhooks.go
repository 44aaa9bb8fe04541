package adminapi

import (
	"bytes"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/httpapi"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/ratelimit"
	"github.com/uniasset/integrations/shared/webhook"
)

var webhookIDPattern = regexp.MustCompile(`^wh_[0-9a-z]{26}$`)

// webhookID reads {id} and treats a malformed one as not found.
func webhookID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !webhookIDPattern.MatchString(id) {
		return "", apierror.New(apierror.NotFound, "no webhook %q", id)
	}
	return id, nil
}

// requestedWebhook reads the webhook the path names, in the caller's tenant.
func (a *API) requestedWebhook(r *http.Request, u User) (webhook.Webhook, error) {
	id, err := webhookID(r)
	if err != nil {
		return webhook.Webhook{}, err
	}
	return a.Webhooks.Get(r.Context(), u.TenantID, id)
}

// readableWebhooks lists the tenant's webhooks that decode: one item that
// does not (counted and alarmed, with its id, for the operator to repair)
// must not hide the others from their owner.
func (a *API) readableWebhooks(r *http.Request, tenantID string) ([]webhook.Webhook, error) {
	hooks, bad, err := a.Webhooks.ListReadable(r.Context(), tenantID)
	alert.CountUnreadable(tenantID, bad)
	return hooks, err
}

func (a *API) listWebhooks(w http.ResponseWriter, r *http.Request, u User) error {
	hooks, err := a.readableWebhooks(r, u.TenantID)
	if err != nil {
		return err
	}
	views := make([]webhook.View, 0, len(hooks))
	for _, h := range hooks {
		views = append(views, h.View())
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"webhooks": views})
	return nil
}

// createdWebhook is the one response that carries the signing secret.
type createdWebhook struct {
	webhook.View
	Secret string `json:"secret"`
}

func (a *API) createWebhook(w http.ResponseWriter, r *http.Request, u User) error {
	var in webhook.CreateInput
	if err := httpapi.ReadValid(r, &in, func() error { return in.Validate(r.Context(), a.URLPolicy) }); err != nil {
		return err
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return err
	}
	if in.Secret != nil {
		secret = *in.Secret
	}
	at := isotime.Format(a.Now())
	hook := webhook.Webhook{
		TenantID: u.TenantID, ID: webhook.NewID(), Name: in.Name, URL: in.URL, Events: in.Events,
		Status: in.Status, CreatedAt: at, CreatedBy: u.Subject, UpdatedAt: at,
		Secret: secret, Headers: in.Headers, Scope: in.Filter,
	}
	if in.Description != nil {
		hook.Description = *in.Description
	}
	if in.RateLimit != nil {
		hook.RateLimit = *in.RateLimit
	}
	hook.HeaderNames = slices.Sorted(maps.Keys(hook.Headers))
	if err := a.Webhooks.Create(r.Context(), hook); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, createdWebhook{View: hook.View(), Secret: secret})
	return nil
}

func (a *API) getWebhook(w http.ResponseWriter, r *http.Request, u User) error {
	hook, err := a.requestedWebhook(r, u)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, hook.View())
	return nil
}

func (a *API) updateWebhook(w http.ResponseWriter, r *http.Request, u User) error {
	id, err := webhookID(r)
	if err != nil {
		return err
	}
	var in webhook.UpdateInput
	if err := httpapi.ReadValid(r, &in, func() error { return in.Validate(r.Context(), a.URLPolicy) }); err != nil {
		return err
	}
	hook, err := a.Webhooks.Get(r.Context(), u.TenantID, id)
	if err != nil {
		return err
	}
	from := hook.URL
	if in.Name != nil {
		hook.Name = *in.Name
	}
	if in.URL != nil {
		hook.URL = *in.URL
		hook.UnverifyIfMoved(from)
	}
	if in.Events != nil {
		hook.Events = in.Events
	}
	if in.Description != nil {
		hook.Description = *in.Description
	}
	if in.Headers != nil {
		hook.Headers = *in.Headers
		hook.HeaderNames = slices.Sorted(maps.Keys(hook.Headers))
	}
	if in.RateLimit != nil {
		hook.RateLimit = *in.RateLimit
	}
	if in.Filter != nil {
		hook.Scope = in.Filter
		if in.Filter.Empty() {
			hook.Scope = nil
		}
	}
	hook.UpdatedAt = isotime.Format(a.Now())
	if err := a.Webhooks.Replace(r.Context(), hook); err != nil { // only over the revision read above
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, hook.View())
	return nil
}

func (a *API) deleteWebhook(w http.ResponseWriter, r *http.Request, u User) error {
	id, err := webhookID(r)
	if err != nil {
		return err
	}
	// Queued deliveries find the webhook gone and are discarded by the dispatcher.
	if err := a.Webhooks.Delete(r.Context(), u.TenantID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) setWebhookStatus(status string) handler {
	return func(w http.ResponseWriter, r *http.Request, u User) error {
		id, err := webhookID(r)
		if err != nil {
			return err
		}
		hook, failedSince, err := a.Webhooks.SetStatus(r.Context(), u.TenantID, id, status)
		if err != nil {
			return err
		}
		if status != webhook.Active {
			httpapi.WriteJSON(w, http.StatusOK, hook.View())
			return nil
		}
		httpapi.WriteJSON(w, http.StatusOK, resumed{View: hook.View(), Recovery: a.suggestRecovery(hook, failedSince)})
		return nil
	}
}

// resumed answers a resume: the webhook, and the recovery of what failed
// while it was failing (null when it was not), ready to send.
type resumed struct {
	webhook.View
	Recovery *suggestedRecovery `json:"suggestedRecovery"`
}

type suggestedRecovery struct {
	Method string `json:"method"`
	Href   string `json:"href"`
	Body   struct {
		Since string `json:"since"`
	} `json:"body"`
}

// suggestRecovery offers to recover a webhook's failed deliveries from the
// start of the failing streak a resume ended, less the retry schedule (a
// recovery selects by event time, and the attempt that began the streak
// may be a retry of an event that long before), at most RecoveryWindow
// back. Only failed deliveries are taken, so the wider window sends
// nothing that succeeded. Events that came while a webhook was paused or
// disabled queued nothing for it and cannot be recovered.
func (a *API) suggestRecovery(hook webhook.Webhook, failedSince string) *suggestedRecovery {
	since, err := time.Parse(time.RFC3339Nano, failedSince)
	if err != nil {
		return nil
	}
	since = since.Add(-a.RetrySpan)
	// A minute inside the window, so the body is still valid when it is sent.
	if oldest := a.Now().Add(-delivery.RecoveryWindow + time.Minute); since.Before(oldest) {
		since = oldest
	}
	s := &suggestedRecovery{Method: http.MethodPost, Href: "/api/integrations/webhooks/" + hook.ID + "/recover"}
	s.Body.Since = isotime.Format(since)
	return s
}

// testWebhook queues an asset.created test delivery at once, whatever assets exist.
func (a *API) testWebhook(w http.ResponseWriter, r *http.Request, u User) error {
	hook, err := a.requestedWebhook(r, u)
	if err != nil {
		return err
	}
	if hook.Status != webhook.Active {
		return apierror.New(apierror.Conflict, "the webhook is %s; resume it to send a test event", hook.Status)
	}
	now := a.Now()
	if err := a.admit(w, r, u.TenantID, keyschema.RateTestEvents(hook.ID), ratelimit.Policy{Name: "test-events", Limit: a.TestEvents}, now); err != nil {
		return err
	}
	e := delivery.Event{
		SourceID: "test_" + ulid.Make().String(), Name: "asset.created", TenantID: u.TenantID, Time: isotime.Format(now), Test: true,
		// A whole asset, as a real asset.created carries, marked as a test.
		Data: struct {
			asset.Asset
			Test bool `json:"test"`
		}{asset.Asset{
			AssetID: "asset_test", AssetName: "Test Asset", CategoryName: "Vehicles", StatusName: "ACTIVE",
			Version: 1, CreatedAt: isotime.Format(now), UpdatedAt: isotime.Format(now),
		}, true},
	}
	k, err := a.Enqueuer.Enqueue(r.Context(), hook, e)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusAccepted, map[string]any{"deliveryId": k.DeliveryID, "event": e.Name, "status": delivery.Pending})
	return nil
}

// rotateSecret replaces a webhook's signing secret, shown once in the
// answer; the replaced one keeps signing beside it for the overlap.
func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request, u User) error {
	id, err := webhookID(r)
	if err != nil {
		return err
	}
	body, err := httpapi.ReadBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}") // no body: a new secret and the default overlap
	}
	var in webhook.RotateInput
	if err := httpapi.DecodeValid(body, &in, in.Validate); err != nil {
		return err
	}
	hook, err := a.Webhooks.Get(r.Context(), u.TenantID, id)
	if err != nil {
		return err
	}
	next, err := webhook.NewSecret()
	if err != nil {
		return err
	}
	if in.Secret != nil {
		next = *in.Secret
	}
	now := a.Now()
	if slices.Contains(hook.SigningSecrets(now), next) {
		return apierror.Invalid(apierror.FieldError{Field: "secret", Issue: "must differ from the secrets that sign now"})
	}
	if retryAt, ok := hook.Rotate(next, in.Overlap(), now); !ok {
		policy := ratelimit.Policy{Name: "secret-rotations", Limit: ratelimit.Limit{Every: webhook.RotationWindow / webhook.MaxRotations, Burst: webhook.MaxRotations}}
		return policy.Refuse(w.Header(), retryAt.Sub(now))
	}
	hook.UpdatedAt = isotime.Format(now)
	if err := a.Webhooks.Rotate(r.Context(), hook, u.Subject, in.Overlap()); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, createdWebhook{View: hook.View(), Secret: next})
	return nil
}

// verifyWebhook challenges the endpoint (delivery.Challenge) and, when it
// echoes the value, records verifiedAt. A challenge counts against the
// webhook's test events: it is a request to a URL the Owner chose.
func (a *API) verifyWebhook(w http.ResponseWriter, r *http.Request, u User) error {
	hook, err := a.requestedWebhook(r, u)
	if err != nil {
		return err
	}
	if err := a.admit(w, r, u.TenantID, keyschema.RateTestEvents(hook.ID), ratelimit.Policy{Name: "test-events", Limit: a.TestEvents}, a.Now()); err != nil {
		return err
	}
	if err := delivery.Challenge(r.Context(), a.Challenger, hook, delivery.NewChallenge()); err != nil {
		return apierror.New(apierror.VerificationFailed, "the endpoint did not verify: %s", err.Error())
	}
	hook.VerifiedAt = isotime.Format(a.Now())
	hook.UpdatedAt = hook.VerifiedAt
	if err := a.Webhooks.Verified(r.Context(), hook, u.Subject); err != nil {
		return err
	}
	hook.Revision++
	httpapi.WriteJSON(w, http.StatusOK, hook.View())
	return nil
}

// admit counts one of the tenant's actions against policy in scope (one
// webhook's test events, resends, recoveries), and answers 429 with
// Retry-After past it.
func (a *API) admit(w http.ResponseWriter, r *http.Request, tenantID, scope string, policy ratelimit.Policy, now time.Time) error {
	ok, wait, err := ratelimit.Admit(r.Context(), a.Limiter, ratelimit.Key{TenantID: tenantID, Scope: scope}, policy.Limit, now)
	if err != nil {
		return err
	}
	if !ok {
		return policy.Refuse(w.Header(), wait)
	}
	return nil
}
