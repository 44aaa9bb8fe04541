package adminapi

import (
	"net/http"
	"regexp"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/apikey"
	"github.com/uniasset/integrations/shared/httpapi"
)

func (a *API) listKeys(w http.ResponseWriter, r *http.Request, u User) error {
	keys, err := a.Keys.Store.List(r.Context(), u.TenantID)
	if err != nil {
		return err
	}
	views := make([]apikey.View, 0, len(keys))
	for _, k := range keys {
		views = append(views, k.View())
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"apiKeys": views})
	return nil
}

// createdKey is the one response that ever carries the full key.
type createdKey struct {
	apikey.View
	Key string `json:"key"`
}

func (a *API) createKey(w http.ResponseWriter, r *http.Request, u User) error {
	var in apikey.NewKeyInput
	if err := httpapi.ReadValid(r, &in, func() error { return in.Validate() }); err != nil { // a closure: Validate must see the decoded body
		return err
	}
	k, plain, err := a.Keys.Issue(r.Context(), u.TenantID, u.Subject, in)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, createdKey{View: k.View(), Key: plain})
	return nil
}

var keyIDPattern = regexp.MustCompile(`^key_[0-9a-z]{26}$`)

func (a *API) revokeKey(w http.ResponseWriter, r *http.Request, u User) error {
	id := r.PathValue("id")
	if !keyIDPattern.MatchString(id) {
		return apierror.New(apierror.NotFound, "no API key %q", id)
	}
	k, err := a.Keys.Store.Revoke(r.Context(), u.TenantID, id, u.Subject)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, k.View())
	return nil
}
