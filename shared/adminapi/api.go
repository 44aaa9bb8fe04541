// Package adminapi serves the routes behind API Gateway's JWT authorizer: API
// keys, webhooks, the Activity Log, the overview and the Developer Guide.
package adminapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uniasset/integrations/shared/activity"
	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/apidoc"
	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/apikey"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/httpapi"
	"github.com/uniasset/integrations/shared/ratelimit"
	"github.com/uniasset/integrations/shared/safehttp"
	"github.com/uniasset/integrations/shared/tenant"
	"github.com/uniasset/integrations/shared/validate"
	"github.com/uniasset/integrations/shared/webhook"
)

// Plans reads a tenant's profile, which gates features by plan (tenant.Store).
type Plans interface {
	Get(ctx context.Context, tenantID string) (tenant.Profile, error)
}

// API holds what the handlers need.
type API struct {
	Tenants  Plans
	Keys     *apikey.Service
	Webhooks *webhook.Store
	Enqueuer *delivery.Enqueuer
	// Recoveries starts and shows recoveries (their steps run in the dispatcher).
	Recoveries *delivery.Recoveries
	URLPolicy  safehttp.Policy
	// ScanningKeys verify secret scanners' leak reports (none: the route is 404).
	ScanningKeys apikey.ScanningKeys
	// Challenger sends verification challenges: the SSRF-safe client
	// deliveries use (safehttp), with the challenge's time limit.
	Challenger *http.Client
	Activity   *activity.Reader
	Alerts     *alert.SettingsStore
	Entra      Entra
	// Limiter holds each webhook's test events to TestEvents (a test is up
	// to 8 attempts at a URL the Owner chose).
	Limiter    ratelimit.Limiter
	TestEvents ratelimit.Limit
	// Resends bounds each webhook's resends (one attempt each), so the
	// Activity Log cannot be used to flood an endpoint.
	Resends ratelimit.Limit
	// RetrySpan is the retry schedule's length: a delivery that failed at
	// the start of a failing streak was an event up to that long before.
	RetrySpan time.Duration
	Now       func() time.Time
	// PublicURL and Region say where clients reach the API (see baseURL).
	PublicURL, Region string
}

// Routes lists what this function serves; template.yaml routes the same (a test checks).
var Routes = httpapi.RoutesOf((&API{}).endpoints())

// access is who may call a route: one of roles, on plan or higher.
type access struct {
	roles []tenant.Role
	plan  tenant.Plan
}

// anyRole is every role a token can carry.
var anyRole = []tenant.Role{tenant.Owner, tenant.Admin, tenant.Manager, tenant.Member, tenant.Viewer}

// endpoint is one admin route, who may call it, and its handler.
type endpoint struct {
	method, pattern string
	access
	h handler
}

// table is every admin route with its access rule (README's admin routes table).
func (a *API) table() []endpoint {
	owner := []tenant.Role{tenant.Owner}
	readers := []tenant.Role{tenant.Owner, tenant.Admin, tenant.Manager}
	const hooks = "/api/integrations/webhooks"
	return []endpoint{
		{http.MethodGet, "/api/integrations/overview", access{owner, tenant.Growth}, a.overview},
		{http.MethodGet, "/api/integrations/developer-guide", access{owner, tenant.Growth}, a.developerGuide},
		{http.MethodGet, "/api/integrations/activity", access{readers, tenant.Growth}, a.listActivity},
		{http.MethodGet, "/api/integrations/activity/{id}", access{readers, tenant.Growth}, a.getActivity},
		{http.MethodPost, "/api/integrations/activity/{id}/resend", access{owner, tenant.Enterprise}, a.resendDelivery},
		// A tenant moved below Enterprise keeps its webhooks (they get
		// nothing: alert.Entitled), and its Owner can still see, pause and
		// delete them; everything that sends needs Enterprise.
		{http.MethodGet, hooks, access{owner, ""}, a.listWebhooks},
		{http.MethodPost, hooks, access{owner, tenant.Enterprise}, a.createWebhook},
		{http.MethodGet, hooks + "/{id}", access{owner, ""}, a.getWebhook},
		{http.MethodPatch, hooks + "/{id}", access{owner, tenant.Enterprise}, a.updateWebhook},
		{http.MethodDelete, hooks + "/{id}", access{owner, ""}, a.deleteWebhook},
		{http.MethodPost, hooks + "/{id}/test", access{owner, tenant.Enterprise}, a.testWebhook},
		{http.MethodPost, hooks + "/{id}/pause", access{owner, ""}, a.setWebhookStatus(webhook.Paused)},
		{http.MethodPost, hooks + "/{id}/resume", access{owner, tenant.Enterprise}, a.setWebhookStatus(webhook.Active)},
		{http.MethodPost, hooks + "/{id}/verify", access{owner, tenant.Enterprise}, a.verifyWebhook},
		{http.MethodPost, hooks + "/{id}/rotate-secret", access{owner, tenant.Enterprise}, a.rotateSecret},
		{http.MethodPost, hooks + "/{id}/recover", access{owner, tenant.Enterprise}, a.recoverWebhook},
		{http.MethodGet, hooks + "/{id}/recoveries/{recoveryId}", access{owner, tenant.Enterprise}, a.getRecovery},
		{http.MethodGet, "/api/integrations/alert-settings", access{owner, tenant.Enterprise}, a.getAlertSettings},
		{http.MethodPatch, "/api/integrations/alert-settings", access{owner, tenant.Enterprise}, a.patchAlertSettings},
		{http.MethodGet, "/api/integrations/api-keys", access{owner, tenant.Growth}, a.listKeys},
		{http.MethodPost, "/api/integrations/api-keys", access{owner, tenant.Growth}, a.createKey},
		{http.MethodPost, "/api/integrations/api-keys/{id}/revoke", access{owner, tenant.Growth}, a.revokeKey},
		{http.MethodPost, "/api/integrations/api-keys/{id}/roll", access{owner, tenant.Growth}, a.rollKey},
		{http.MethodPatch, "/api/integrations/api-keys/{id}", access{owner, tenant.Growth}, a.updateKey},
		{http.MethodGet, "/api/integrations/api-key-policy", access{owner, tenant.Growth}, a.getKeyPolicy},
		{http.MethodPut, "/api/integrations/api-key-policy", access{owner, tenant.Growth}, a.putKeyPolicy},
		// Entra: the page on every plan (it draws the gate); reads for any
		// role, changes for Owners (a group mapped to Owner grants Owner).
		{http.MethodGet, entraRoot, access{anyRole, ""}, a.getEntra},
		{http.MethodPost, entraRoot + "/connect", access{owner, tenant.Enterprise}, a.connectEntra},
		// A tenant moved below Enterprise is no longer synced; its Owner can still disconnect.
		{http.MethodPost, entraRoot + "/disconnect", access{owner, ""}, a.disconnectEntra},
		{http.MethodGet, entraRoot + "/groups", access{anyRole, tenant.Enterprise}, a.listEntraGroups},
		{http.MethodPut, entraRoot + "/mappings", access{owner, tenant.Enterprise}, a.putEntraMappings},
		{http.MethodPatch, entraRoot + "/settings", access{owner, tenant.Enterprise}, a.patchEntraSettings},
		{http.MethodPost, entraRoot + "/sync", access{owner, tenant.Enterprise}, a.syncEntra},
		{http.MethodGet, entraRoot + "/users", access{anyRole, tenant.Enterprise}, a.listEntraUsers},
		{http.MethodPost, entraRoot + "/approvals", access{owner, tenant.Enterprise}, a.approveEntraRemovals},
	}
}

func (a *API) endpoints() []httpapi.Endpoint {
	var out []httpapi.Endpoint
	for _, e := range a.table() {
		out = append(out, httpapi.Endpoint{Route: httpapi.Route{Method: e.method, Pattern: e.pattern}, Handler: a.guard(e.access, e.h)})
	}
	// The routes without a JWT: Microsoft's redirect after consent, a
	// secret scanner's signed leak reports, and the OpenAPI document (it
	// holds no tenant's data; client generators and API tools fetch it).
	unauthenticated := func(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r); err != nil {
				httpapi.WriteError(w, r, err)
			}
		}
	}
	return append(out,
		httpapi.Endpoint{Route: httpapi.Route{Method: http.MethodGet, Pattern: entraRoot + "/callback"}, Handler: unauthenticated(a.entraCallback)},
		httpapi.Endpoint{Route: httpapi.Route{Method: http.MethodPost, Pattern: leakReportPath}, Handler: unauthenticated(a.reportLeaks)},
		httpapi.Endpoint{Route: httpapi.Route{Method: http.MethodGet, Pattern: apidoc.DocumentPath}, Handler: unauthenticated(a.openAPI)},
	)
}

// Handler returns the router for the admin routes.
func (a *API) Handler() http.Handler {
	rt := httpapi.NewRouter()
	rt.Mount(a.endpoints())
	return rt
}

// User is the caller, from the claims API Gateway's authorizer verified.
type User struct {
	TenantID string
	Role     tenant.Role
	Subject  string
	Profile  tenant.Profile
}

type handler func(w http.ResponseWriter, r *http.Request, u User) error

// guard enforces the contract's order: token (401) → role (403 FORBIDDEN) → plan
// (403 PLAN_UPGRADE_REQUIRED, or ENTERPRISE_REQUIRED where Enterprise is the bar).
// The tenant always comes from the token, never from the path or body.
func (a *API) guard(rule access, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := a.authorize(r, rule.roles, rule.plan)
		if err == nil {
			err = h(w, r, u)
		}
		if err != nil {
			httpapi.WriteError(w, r, err)
		}
	}
}

func (a *API) authorize(r *http.Request, roles []tenant.Role, minPlan tenant.Plan) (User, error) {
	ctx := r.Context()
	claims := httpapi.Claims(ctx)
	u := User{TenantID: claims["tenant_id"], Role: tenant.Role(claims["role"]), Subject: claims["sub"]}
	if !tenant.ValidID(u.TenantID) || !validSubject(u.Subject) || u.Role == "" || !httpapi.StringClaims(r, "tenant_id", "role", "sub") {
		return User{}, apierror.New(apierror.Unauthorized, "a valid token with tenant_id, role and sub claims is required")
	}
	if !slices.Contains(roles, u.Role) {
		return User{}, apierror.New(apierror.Forbidden, "this action requires the %s role", roleList(roles))
	}
	profile, err := a.Tenants.Get(ctx, u.TenantID)
	if err != nil {
		return User{}, err
	}
	u.Profile = profile
	if !profile.Plan.AtLeast(minPlan) {
		if minPlan == tenant.Enterprise {
			return User{}, apierror.New(apierror.EnterpriseRequired, "this feature requires the Enterprise plan")
		}
		return User{}, apierror.New(apierror.PlanUpgradeRequired, "this feature requires the %s plan or higher", minPlan)
	}
	return u, nil
}

// validSubject keeps what the activity log and createdBy fields will show
// printable: the identity provider signs sub, but it is still text we display.
func validSubject(sub string) bool {
	return sub != "" && len(sub) <= 256 && utf8.ValidString(sub) &&
		!strings.ContainsFunc(sub, func(r rune) bool { return validate.Forbidden(r, validate.Line) })
}

func roleList(roles []tenant.Role) string {
	s := ""
	for i, r := range roles {
		if i > 0 {
			s += " or "
		}
		s += string(r)
	}
	return s
}
