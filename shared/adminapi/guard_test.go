package adminapi

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"

	"github.com/uniasset/integrations/shared/httpapi"
	"github.com/uniasset/integrations/shared/tenant"
)

// plans is an in-memory Plans: each tenant id is its plan.
type plans struct{}

func (plans) Get(_ context.Context, tenantID string) (tenant.Profile, error) {
	return tenant.Profile{TenantID: tenantID, Plan: tenant.Plan(tenantID)}, nil
}

// README's admin routes table: who may call each route, from which plan.
var documented = map[string]access{
	"GET /api/integrations/overview":                              {[]tenant.Role{tenant.Owner}, tenant.Growth},
	"GET /api/integrations/developer-guide":                       {[]tenant.Role{tenant.Owner}, tenant.Growth},
	"GET /api/integrations/activity":                              {[]tenant.Role{tenant.Owner, tenant.Admin, tenant.Manager}, tenant.Growth},
	"GET /api/integrations/activity/{id}":                         {[]tenant.Role{tenant.Owner, tenant.Admin, tenant.Manager}, tenant.Growth},
	"POST /api/integrations/activity/{id}/resend":                 {[]tenant.Role{tenant.Owner}, tenant.Enterprise},
	"POST /api/integrations/webhooks/{id}/rotate-secret":          {[]tenant.Role{tenant.Owner}, tenant.Enterprise},
	"POST /api/integrations/webhooks/{id}/verify":                 {[]tenant.Role{tenant.Owner}, tenant.Enterprise},
	"POST /api/integrations/webhooks/{id}/recover":                {[]tenant.Role{tenant.Owner}, tenant.Enterprise},
	"GET /api/integrations/webhooks/{id}/recoveries/{recoveryId}": {[]tenant.Role{tenant.Owner}, tenant.Enterprise},
	"GET /api/integrations/webhooks":                              {[]tenant.Role{tenant.Owner}, ""},
	"POST /api/integrations/webhooks":                             {[]tenant.Role{tenant.Owner}, tenant.Enterprise},
	"GET /api/integrations/webhooks/{id}":                         {[]tenant.Role{tenant.Owner}, ""},
	"PATCH /api/integrations/webhooks/{id}":                       {[]tenant.Role{tenant.Owner}, tenant.Enterprise},
	"DELETE /api/integrations/webhooks/{id}":                      {[]tenant.Role{tenant.Owner}, ""},
	"POST /api/integrations/webhooks/{id}/test":                   {[]tenant.Role{tenant.Owner}, tenant.Enterprise},
	"POST /api/integrations/webhooks/{id}/pause":                  {[]tenant.Role{tenant.Owner}, ""},
	"POST /api/integrations/webhooks/{id}/resume":                 {[]tenant.Role{tenant.Owner}, tenant.Enterprise},
	"GET /api/integrations/alert-settings":                        {[]tenant.Role{tenant.Owner}, tenant.Enterprise},
	"PATCH /api/integrations/alert-settings":                      {[]tenant.Role{tenant.Owner}, tenant.Enterprise},
	"GET /api/integrations/api-keys":                              {[]tenant.Role{tenant.Owner}, tenant.Growth},
	"POST /api/integrations/api-keys":                             {[]tenant.Role{tenant.Owner}, tenant.Growth},
	"POST /api/integrations/api-keys/{id}/revoke":                 {[]tenant.Role{tenant.Owner}, tenant.Growth},
	"POST /api/integrations/api-keys/{id}/roll":                   {[]tenant.Role{tenant.Owner}, tenant.Growth},
	"PATCH /api/integrations/api-keys/{id}":                       {[]tenant.Role{tenant.Owner}, tenant.Growth},
	"GET /api/integrations/api-key-policy":                        {[]tenant.Role{tenant.Owner}, tenant.Growth},
	"PUT /api/integrations/api-key-policy":                        {[]tenant.Role{tenant.Owner}, tenant.Growth},
	// Entra: the page answers everyone (below Enterprise, with the gate).
	"GET /api/integrations/entra":             {everyone, ""},
	"POST /api/integrations/entra/connect":    {[]tenant.Role{tenant.Owner}, tenant.Enterprise},
	"POST /api/integrations/entra/disconnect": {[]tenant.Role{tenant.Owner}, ""},
	"GET /api/integrations/entra/groups":      {everyone, tenant.Enterprise},
	"PUT /api/integrations/entra/mappings":    {[]tenant.Role{tenant.Owner}, tenant.Enterprise},
	"PATCH /api/integrations/entra/settings":  {[]tenant.Role{tenant.Owner}, tenant.Enterprise},
	"POST /api/integrations/entra/sync":       {[]tenant.Role{tenant.Owner}, tenant.Enterprise},
	"GET /api/integrations/entra/users":       {everyone, tenant.Enterprise},
	"POST /api/integrations/entra/approvals":  {[]tenant.Role{tenant.Owner}, tenant.Enterprise},
}

var everyone = []tenant.Role{tenant.Owner, tenant.Admin, tenant.Manager, tenant.Member, tenant.Viewer}

// call runs h as API Gateway would with a verified token carrying claims.
func call(t *testing.T, h http.Handler, claims map[string]string) (int, string) {
	t.Helper()
	mc := jwt.MapClaims{}
	for k, v := range claims {
		mc[k] = v
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, mc).SignedString([]byte("test"))
	if err != nil {
		t.Fatal(err)
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: "/x", Headers: map[string]string{"authorization": "Bearer " + tok},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "r1", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/x"},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
			},
		},
	}
	resp, err := httpapi.Lambda(h)(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Error struct{ Code string } }
	_ = json.Unmarshal([]byte(resp.Body), &body)
	return resp.StatusCode, body.Error.Code
}

// Every route's guard admits exactly the documented roles on the documented
// plans, and refuses the rest in the contract's order: role (FORBIDDEN), then
// plan (ENTERPRISE_REQUIRED where Enterprise is the bar, else PLAN_UPGRADE_REQUIRED).
func TestEveryRouteAdmitsTheDocumentedRolesAndPlans(t *testing.T) {
	a := &API{Tenants: plans{}}
	table := a.table()
	if len(table) != len(documented) {
		t.Fatalf("%d routes, %d documented", len(table), len(documented))
	}
	roles := []tenant.Role{tenant.Owner, tenant.Admin, tenant.Manager, tenant.Member, tenant.Viewer, "owner"}
	tiers := []tenant.Plan{tenant.Starter, tenant.Growth, tenant.Enterprise, "none"}
	for _, e := range table {
		name := e.method + " " + e.pattern
		want, ok := documented[name]
		if !ok {
			t.Errorf("%s is not documented", name)
			continue
		}
		var reached []string
		h := a.guard(e.access, func(w http.ResponseWriter, _ *http.Request, u User) error {
			reached = append(reached, string(u.Role)+"@"+string(u.Profile.Plan))
			w.WriteHeader(http.StatusNoContent)
			return nil
		})
		for _, role := range roles {
			for _, plan := range tiers {
				status, code := call(t, h, map[string]string{"tenant_id": string(plan), "role": string(role), "sub": "u1"})
				roleOK, planOK := slices.Contains(want.roles, role), plan.AtLeast(want.plan)
				wantCode := ""
				switch {
				case !roleOK:
					wantCode = "FORBIDDEN"
				case !planOK && want.plan == tenant.Enterprise:
					wantCode = "ENTERPRISE_REQUIRED"
				case !planOK:
					wantCode = "PLAN_UPGRADE_REQUIRED"
				}
				if (wantCode == "" && status != http.StatusNoContent) || (wantCode != "" && (status != http.StatusForbidden || code != wantCode)) {
					t.Errorf("%s as %s on %s: %d %s, want %q", name, role, plan, status, code, wantCode)
				}
			}
		}
		if len(reached) == 0 {
			t.Errorf("%s admits no one", name)
		}
	}
}
