package adminapi

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uniasset/integrations/shared/adminroutes"
	"github.com/uniasset/integrations/shared/httpapi"
	"github.com/uniasset/integrations/shared/tenant"
)

// Behind API Gateway the authorizer guarantees claims; the function still
// refuses an event without them (a misconfigured route must not open the API).
func TestLambdaEventWithoutClaimsIsUnauthorized(t *testing.T) {
	h := httpapi.Lambda((&API{Tenants: &tenant.Store{}}).Handler())
	for _, claims := range []map[string]string{
		nil,
		{"tenant_id": "t1", "role": "Owner"}, // no sub
		{"tenant_id": "TENANT#x", "role": "Owner", "sub": "u"}, // an id that could escape its key
	} {
		ev := events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "GET /api/integrations/api-keys", RawPath: "/api/integrations/api-keys",
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				RequestID: "r1", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/api/integrations/api-keys", SourceIP: "203.0.113.9"},
			},
		}
		if claims != nil {
			ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
			}
		}
		resp, err := h(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Error struct{ Code string } }
		_ = json.Unmarshal([]byte(resp.Body), &body)
		if resp.StatusCode != 401 || body.Error.Code != "UNAUTHORIZED" {
			t.Errorf("claims %v: %d %s", claims, resp.StatusCode, resp.Body)
		}
		if resp.Headers["X-Request-Id"] != "r1" {
			t.Errorf("request id not echoed: %v", resp.Headers)
		}
	}
}

// The integration function reserves adminroutes.Routes; it must be exactly
// what this router serves.
func TestAdminRoutesListMatchesTheRouter(t *testing.T) {
	key := func(r httpapi.Route) string { return r.Method + " " + r.Pattern }
	var served, listed []string
	for _, r := range Routes {
		served = append(served, key(r))
	}
	for _, r := range adminroutes.Routes {
		listed = append(listed, key(r))
	}
	slices.Sort(served)
	slices.Sort(listed)
	if !slices.Equal(served, listed) {
		t.Fatalf("adminroutes.Routes drifted from the admin router:\nserved %v\nlisted %v", served, listed)
	}
}
