package adminapi

import (
	"net/http"

	"github.com/uniasset/integrations/shared/httpapi"
	"github.com/uniasset/integrations/shared/tenant"
	"github.com/uniasset/integrations/shared/webhook"
)

// overview summarizes the tenant's integrations for the Overview page.
func (a *API) overview(w http.ResponseWriter, r *http.Request, u User) error {
	keys, err := a.Keys.Store.List(r.Context(), u.TenantID)
	if err != nil {
		return err
	}
	hooks, err := a.readableWebhooks(r, u.TenantID)
	if err != nil {
		return err
	}
	keyCounts := map[string]int{"active": 0, "expired": 0, "revoked": 0}
	now := a.Now()
	for _, k := range keys {
		keyCounts[k.View(now).Status]++
	}
	health := map[string]int{"total": len(hooks), "healthy": 0, "failing": 0, "paused": 0, "disabled": 0, "new": 0}
	for _, h := range hooks {
		health[h.Health()]++
	}
	type event struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	events := make([]event, 0, len(webhook.Events))
	for _, e := range webhook.Events {
		events = append(events, event(e))
	}
	enterprise := u.Profile.Plan.AtLeast(tenant.Enterprise)
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{
		"plan": u.Profile.Plan,
		"features": map[string]bool{
			"apiAccess": u.Profile.Plan.AtLeast(tenant.Growth), "integrationApi": enterprise,
			"webhooks": enterprise, "entraDirectorySync": enterprise,
		},
		"apiKeys":  keyCounts,
		"webhooks": health,
		// Directory sync is its own feature; until a tenant connects it, it reads as not connected.
		"entra":  map[string]any{"status": "not_connected", "available": enterprise},
		"events": events,
	})
	return nil
}
