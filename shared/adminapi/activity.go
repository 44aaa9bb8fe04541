package adminapi

import (
	"net/http"
	"strconv"

	"github.com/uniasset/integrations/shared/activity"
	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/httpapi"
)

func (a *API) listActivity(w http.ResponseWriter, r *http.Request, u User) error {
	q := r.URL.Query()
	for name := range q {
		switch name {
		case "source", "webhookId", "apiKeyId", "cursor", "limit":
		default:
			return apierror.Invalid(apierror.FieldError{Field: name, Issue: "unknown query parameter"})
		}
	}
	query := activity.Query{TenantID: u.TenantID, Source: q.Get("source"), WebhookID: q.Get("webhookId"), APIKeyID: q.Get("apiKeyId"), Cursor: q.Get("cursor")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100 {
			return apierror.Invalid(apierror.FieldError{Field: "limit", Issue: "must be a whole number from 1 to 100"})
		}
		query.Limit = n
	}
	page, err := a.Activity.List(r.Context(), query)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, page)
	return nil
}

func (a *API) getActivity(w http.ResponseWriter, r *http.Request, u User) error {
	d, err := a.Activity.Get(r.Context(), u.TenantID, r.PathValue("id"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, d)
	return nil
}
