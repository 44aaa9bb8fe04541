package adminapi

import (
	"bytes"
	"net/http"
	"regexp"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/apikey"
	"github.com/uniasset/integrations/shared/httpapi"
	"github.com/uniasset/integrations/shared/isotime"
)

func (a *API) listKeys(w http.ResponseWriter, r *http.Request, u User) error {
	keys, err := a.Keys.Store.List(r.Context(), u.TenantID)
	if err != nil {
		return err
	}
	views := make([]apikey.View, 0, len(keys))
	now := a.Now()
	for _, k := range keys {
		views = append(views, k.View(now))
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
	if err := httpapi.ReadValid(r, &in, func() error { return in.Validate(a.Now()) }); err != nil { // a closure: Validate must see the decoded body
		return err
	}
	k, plain, err := a.Keys.Issue(r.Context(), u.TenantID, u.Subject, in)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, createdKey{View: k.View(a.Now()), Key: plain})
	return nil
}

var keyIDPattern = regexp.MustCompile(`^key_[0-9a-z]{26}$`)

// keyID reads {id} and treats a malformed one as not found.
func keyID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !keyIDPattern.MatchString(id) {
		return "", apierror.New(apierror.NotFound, "no API key %q", id)
	}
	return id, nil
}

func (a *API) revokeKey(w http.ResponseWriter, r *http.Request, u User) error {
	id, err := keyID(r)
	if err != nil {
		return err
	}
	k, err := a.Keys.Store.Revoke(r.Context(), u.TenantID, id, u.Subject)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, k.View(a.Now()))
	return nil
}

// rolledKey answers a roll: the new key (shown this once) and the old one
// with the time it stops working.
type rolledKey struct {
	apikey.View
	Key      string      `json:"key"`
	Previous apikey.View `json:"previous"`
}

// rollKey replaces a key without downtime: a new key now, the old one
// working until the overlap ends.
func (a *API) rollKey(w http.ResponseWriter, r *http.Request, u User) error {
	id, err := keyID(r)
	if err != nil {
		return err
	}
	body, err := httpapi.ReadBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}") // no body: the default overlap
	}
	var in apikey.RollInput
	if err := httpapi.DecodeValid(body, &in, in.Validate); err != nil {
		return err
	}
	old, next, plain, err := a.Keys.Roll(r.Context(), u.TenantID, id, u.Subject, in.Overlap())
	if err != nil {
		return err
	}
	now := a.Now()
	httpapi.WriteJSON(w, http.StatusCreated, rolledKey{View: next.View(now), Key: plain, Previous: old.View(now)})
	return nil
}

// updateKey changes a working key's name, allowlist or rate limit in
// place: no new secret, and the next request with the key meets it.
func (a *API) updateKey(w http.ResponseWriter, r *http.Request, u User) error {
	id, err := keyID(r)
	if err != nil {
		return err
	}
	var in apikey.KeyChange
	if err := httpapi.ReadValid(r, &in, in.Validate); err != nil {
		return err
	}
	k, err := a.Keys.Store.Update(r.Context(), u.TenantID, id, in, u.Subject, a.Now())
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, k.View(a.Now()))
	return nil
}

// keyPolicy is the body of GET and PUT /api-key-policy.
type keyPolicy struct {
	MaxLifetimeDays *int    `json:"maxLifetimeDays"` // null: no limit
	UpdatedAt       *string `json:"updatedAt"`
	UpdatedBy       *string `json:"updatedBy"`
}

func viewPolicy(p apikey.Policy) keyPolicy {
	var v keyPolicy
	if p.MaxLifetimeDays > 0 {
		v.MaxLifetimeDays = &p.MaxLifetimeDays
	}
	if p.UpdatedAt != "" {
		v.UpdatedAt, v.UpdatedBy = &p.UpdatedAt, &p.UpdatedBy
	}
	return v
}

func (a *API) getKeyPolicy(w http.ResponseWriter, r *http.Request, u User) error {
	p, err := a.Keys.Store.GetPolicy(r.Context(), u.TenantID)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, viewPolicy(p))
	return nil
}

// putKeyPolicy sets the longest a new key may live; keys issued before keep
// their times (roll them to bring them under it).
func (a *API) putKeyPolicy(w http.ResponseWriter, r *http.Request, u User) error {
	var in apikey.PolicyInput
	if err := httpapi.ReadValid(r, &in, in.Validate); err != nil {
		return err
	}
	p := apikey.Policy{UpdatedAt: isotime.Format(a.Now()), UpdatedBy: u.Subject}
	if n := in.MaxLifetimeDays.N; n != nil {
		p.MaxLifetimeDays = *n
	}
	if err := a.Keys.Store.PutPolicy(r.Context(), u.TenantID, p); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, viewPolicy(p))
	return nil
}
