package adminapi

import (
	"net/http"

	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/httpapi"
)

// alertSettings is the body of GET and PATCH /alert-settings.
type alertSettings struct {
	alert.Leads
	Defaults  alert.Leads `json:"defaults"`
	UpdatedAt *string     `json:"updatedAt"`
	UpdatedBy *string     `json:"updatedBy"`
}

func viewSettings(st alert.Settings) alertSettings {
	v := alertSettings{Leads: st.Leads, Defaults: alert.DefaultLeads}
	if st.UpdatedAt != "" {
		v.UpdatedAt, v.UpdatedBy = &st.UpdatedAt, &st.UpdatedBy
	}
	return v
}

func (a *API) getAlertSettings(w http.ResponseWriter, r *http.Request, u User) error {
	st, err := a.Alerts.Get(r.Context(), u.TenantID)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, viewSettings(st))
	return nil
}

func (a *API) patchAlertSettings(w http.ResponseWriter, r *http.Request, u User) error {
	var in alert.LeadsInput
	if err := httpapi.ReadValid(r, &in, in.Validate); err != nil {
		return err
	}
	st, err := a.Alerts.Change(r.Context(), u.TenantID, u.Subject, a.Now(), in.Apply)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, viewSettings(st))
	return nil
}
