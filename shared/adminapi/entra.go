package adminapi

import (
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/entra"
	"github.com/uniasset/integrations/shared/httpapi"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/tenant"
	"github.com/uniasset/integrations/shared/validate"
)

// Entra is what the Entra routes use.
type Entra struct {
	Store   *entra.Store
	Consent *entra.Consent
	Jobs    *entra.Jobs
	// ReturnURL is the UI page the callback redirects to ("" answers JSON).
	ReturnURL string
}

const entraRoot = "/api/integrations/entra"

// connectionView is the connection as the Entra page shows it.
type connectionView struct {
	MicrosoftTenantID string         `json:"microsoftTenantId"`
	Domain            string         `json:"domain"`
	OrganizationName  string         `json:"organizationName"`
	Status            entra.Status   `json:"status"`
	StatusReason      string         `json:"statusReason"`
	ConnectedAt       string         `json:"connectedAt"`
	ConnectedBy       string         `json:"connectedBy"`
	ConsentedBy       string         `json:"consentedBy"`
	LastSyncAt        *string        `json:"lastSyncAt"`
	LastSync          *entra.Result  `json:"lastSync"`
	GroupsReadAt      *string        `json:"groupsReadAt"`
	GroupsStale       bool           `json:"groupsStale"`
	Held              *entra.Held    `json:"held"`
	ApprovalPending   bool           `json:"approvalPending"`
	Settings          entra.Settings `json:"settings"`
	Mappings          []mappingView  `json:"mappings"`
}

type mappingView struct {
	GroupID   string      `json:"groupId"`
	GroupName string      `json:"groupName"`
	Role      tenant.Role `json:"role"`
	// Missing: the directory no longer has the group (its members get no role from it).
	Missing bool `json:"missing"`
}

// entraPage is GET /entra: below Enterprise only the gate, for the overlay.
type entraPage struct {
	Available    bool            `json:"available"`
	Plan         tenant.Plan     `json:"plan"`
	RequiredPlan tenant.Plan     `json:"requiredPlan"`
	Message      string          `json:"message,omitempty"`
	Configured   bool            `json:"configured"`
	Connection   *connectionView `json:"connection"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (a *API) getEntra(w http.ResponseWriter, r *http.Request, u User) error {
	if !u.Profile.Plan.AtLeast(tenant.Enterprise) {
		writeEntraPage(w, u, a.Entra.Consent.Microsoft.Configured(), entra.Connection{}, nil)
		return nil
	}
	c, err := a.Entra.Store.Get(r.Context(), u.TenantID)
	if err != nil {
		return err
	}
	var groups []entra.Group
	if c.MicrosoftTenantID != "" {
		if groups, err = a.Entra.Store.Groups(r.Context(), u.TenantID); err != nil {
			return err
		}
	}
	writeEntraPage(w, u, a.Entra.Consent.Microsoft.Configured(), c, groups)
	return nil
}

// writeEntraPage answers the page for connection c, whose groups are as
// given (below Enterprise, only the gate).
func writeEntraPage(w http.ResponseWriter, u User, configured bool, c entra.Connection, groups []entra.Group) {
	page := entraPage{Plan: u.Profile.Plan, RequiredPlan: tenant.Enterprise, Configured: configured}
	if !u.Profile.Plan.AtLeast(tenant.Enterprise) {
		page.Message = "Microsoft Entra ID directory sync requires the Enterprise plan"
		httpapi.WriteJSON(w, http.StatusOK, page)
		return
	}
	page.Available = true
	if c.MicrosoftTenantID != "" {
		names := map[string]string{}
		for _, g := range groups {
			names[g.ID] = g.DisplayName
		}
		view := &connectionView{
			MicrosoftTenantID: c.MicrosoftTenantID, Domain: c.Domain, OrganizationName: c.OrganizationName, Status: c.Status,
			StatusReason: c.StatusReason, ConnectedAt: c.ConnectedAt, ConnectedBy: c.ConnectedBy, ConsentedBy: c.ConsentedBy, LastSyncAt: optional(c.LastSyncAt),
			LastSync: c.LastSync, GroupsReadAt: optional(c.GroupsReadAt), GroupsStale: c.GroupsStale, Held: c.Held,
			ApprovalPending: c.ApprovedDigest != "", Settings: c.SettingsOrDefault(), Mappings: []mappingView{},
		}
		for _, gid := range slices.Sorted(maps.Keys(c.Mappings)) {
			name, ok := names[gid]
			view.Mappings = append(view.Mappings, mappingView{GroupID: gid, GroupName: name, Role: c.Mappings[gid], Missing: !ok && c.GroupsReadAt != ""})
		}
		page.Connection = view
	}
	httpapi.WriteJSON(w, http.StatusOK, page)
}

// connected reads the tenant's connection, which must sync.
func (a *API) connected(r *http.Request, u User) (entra.Connection, error) {
	c, err := a.Entra.Store.Get(r.Context(), u.TenantID)
	if err != nil {
		return c, err
	}
	if !c.Active() {
		return c, apierror.New(apierror.Conflict, "Microsoft Entra ID is not connected")
	}
	return c, nil
}

// consentTTL is how long a connect's state stays good: long enough for an
// admin to sign in (with MFA) and read the consent page.
const consentTTL = 15 * time.Minute

func (a *API) connectEntra(w http.ResponseWriter, r *http.Request, u User) error {
	if _, err := httpapi.ReadBody(r); err != nil {
		return err
	}
	if !a.Entra.Consent.Microsoft.Configured() {
		return apierror.New(apierror.NotConfigured, "the operator has not configured the Entra app (EntraClientId)")
	}
	c, err := a.Entra.Store.Get(r.Context(), u.TenantID)
	if err != nil {
		return err
	}
	hint := ""
	if c.Active() {
		hint = c.MicrosoftTenantID // reconnecting (reauth): the same directory
	}
	redirect := a.baseURL(r) + entraRoot + "/callback"
	signInURL, expires, err := a.Entra.Consent.Begin(r.Context(), u.TenantID, u.Subject, redirect, hint)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"consentUrl": signInURL, "expiresAt": isotime.Format(expires), "redirectUri": redirect})
	return nil
}

// entraCallback is where Microsoft sends the admin's browser back. It has no
// JWT: the state is the credential, checked before anything else is read.
func (a *API) entraCallback(w http.ResponseWriter, r *http.Request) error {
	done, err := a.Entra.Consent.Complete(r.Context(), r.URL.Query())
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer") // the URL held the state, or a code
	if done.Next != "" {
		// Signed in: on to Microsoft's admin consent for the proven tenant.
		http.Redirect(w, r, done.Next, http.StatusFound)
		return nil
	}
	if done.Outcome == entra.OutcomeConnected {
		if err := a.Entra.Jobs.Enqueue(r.Context(), "connect", done.TenantID); err != nil {
			return err // the connection stands; the schedule syncs it within 15 minutes
		}
	}
	if a.Entra.ReturnURL != "" {
		http.Redirect(w, r, a.Entra.ReturnURL+"?entra="+url.QueryEscape(done.Outcome), http.StatusSeeOther)
		return nil
	}
	status := http.StatusOK
	switch done.Outcome {
	case entra.OutcomeConnected:
	case entra.OutcomeClaimed, entra.OutcomeOtherTenant, entra.OutcomeChanged:
		status = http.StatusConflict
	case entra.OutcomeUnavailable:
		status = http.StatusBadGateway
	default:
		status = http.StatusBadRequest
	}
	httpapi.WriteJSON(w, status, map[string]string{"outcome": done.Outcome, "message": done.Message})
	return nil
}

func (a *API) disconnectEntra(w http.ResponseWriter, r *http.Request, u User) error {
	if _, err := httpapi.ReadBody(r); err != nil {
		return err
	}
	if err := a.Entra.Store.Disconnect(r.Context(), u.TenantID, u.Subject, a.Now()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type groupView struct {
	entra.Group
	Role *tenant.Role `json:"role"`
}

// listEntraGroups answers the groups as last read, marked stale when the
// last read failed: never an empty list for an unreadable directory.
func (a *API) listEntraGroups(w http.ResponseWriter, r *http.Request, u User) error {
	c, err := a.Entra.Store.Get(r.Context(), u.TenantID)
	if err != nil {
		return err
	}
	groups, err := a.Entra.Store.Groups(r.Context(), u.TenantID)
	if err != nil {
		return err
	}
	out := []groupView{}
	for _, g := range groups {
		v := groupView{Group: g}
		if role, ok := c.Mappings[g.ID]; ok {
			v.Role = &role
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(x, y groupView) int {
		return strings.Compare(strings.ToLower(x.DisplayName), strings.ToLower(y.DisplayName))
	})
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"groups": out, "stale": c.GroupsStale, "readAt": optional(c.GroupsReadAt)})
	return nil
}

func (a *API) putEntraMappings(w http.ResponseWriter, r *http.Request, u User) error {
	var in entra.MappingsInput
	if err := httpapi.ReadValid(r, &in, in.Validate); err != nil {
		return err
	}
	c, err := a.connected(r, u)
	if err != nil {
		return err
	}
	groups, err := a.Entra.Store.Groups(r.Context(), u.TenantID)
	if err != nil {
		return err
	}
	known := map[string]string{}
	for _, g := range groups {
		known[strings.ToLower(g.ID)] = g.ID
	}
	var p validate.Problems
	m := map[string]tenant.Role{}
	for i, mp := range in.Mappings {
		id, ok := known[strings.ToLower(mp.GroupID)]
		if !ok {
			p.Add("mappings["+strconv.Itoa(i)+"].groupId", "is not a security group of the connected directory")
			continue
		}
		m[id] = mp.Role
	}
	if err := p.Err(); err != nil {
		return err
	}
	if err := a.Entra.Store.SetMappings(r.Context(), u.TenantID, c.MicrosoftTenantID, m); err != nil {
		return err
	}
	c.Mappings = m
	writeEntraPage(w, u, a.Entra.Consent.Microsoft.Configured(), c, groups)
	return nil
}

func (a *API) patchEntraSettings(w http.ResponseWriter, r *http.Request, u User) error {
	var in entra.SettingsInput
	if err := httpapi.ReadValid(r, &in, in.Validate); err != nil {
		return err
	}
	// Read, change what was given, write if unchanged meanwhile: another
	// Owner's PATCH of other fields at the same moment is kept, not undone.
	for try := 0; ; try++ {
		c, err := a.connected(r, u)
		if err != nil {
			return err
		}
		st := in.Apply(c.SettingsOrDefault())
		err = a.Entra.Store.SetSettings(r.Context(), u.TenantID, c.MicrosoftTenantID, c.SettingsVersion, st)
		if errors.Is(err, entra.ErrSettingsChanged) && try < 4 {
			continue
		}
		if errors.Is(err, entra.ErrSettingsChanged) {
			return apierror.New(apierror.Conflict, "the settings keep changing; reload them")
		}
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, st)
		return nil
	}
}

// syncEntra is "sync now": a job on the queue, run within seconds.
func (a *API) syncEntra(w http.ResponseWriter, r *http.Request, u User) error {
	if _, err := httpapi.ReadBody(r); err != nil {
		return err
	}
	if _, err := a.connected(r, u); err != nil {
		return err
	}
	if err := a.Entra.Jobs.Enqueue(r.Context(), "manual", u.TenantID); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusAccepted, map[string]bool{"queued": true})
	return nil
}

// listEntraUsers pages through the accounts the sync created.
func (a *API) listEntraUsers(w http.ResponseWriter, r *http.Request, u User) error {
	q := r.URL.Query()
	limit := 100
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return apierror.Invalid(apierror.FieldError{Field: "limit", Issue: "must be a whole number from 1 to 500"})
		}
		limit = n
	}
	page, err := a.Entra.Store.ListAccounts(r.Context(), u.TenantID, q.Get("cursor"), limit)
	if err != nil {
		return err
	}
	users := page.Accounts
	if users == nil {
		users = []entra.Account{}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"users": users, "nextCursor": optional(page.Next)})
	return nil
}

func (a *API) approveEntraRemovals(w http.ResponseWriter, r *http.Request, u User) error {
	var in entra.ApprovalInput
	if err := httpapi.ReadValid(r, &in, in.Validate); err != nil {
		return err
	}
	if err := a.Entra.Store.Approve(r.Context(), u.TenantID, in.Digest, u.Subject, a.Now()); err != nil {
		return err
	}
	if err := a.Entra.Jobs.Enqueue(r.Context(), "approval", u.TenantID); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusAccepted, map[string]bool{"approved": true, "queued": true})
	return nil
}
