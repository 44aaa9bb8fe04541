// Package adminroutes lists the routes the admin function serves, as plain
// data. The integration function (API Gateway's $default route) reserves them
// to answer a wrong method with 405; it imports this list rather than the
// admin API itself, which would pull the admin function's code and
// dependencies (OpenAPI document, YAML, templates) into its binary. A test in
// adminapi keeps the list equal to the admin router's table.
package adminroutes

import (
	"net/http"

	"github.com/uniasset/integrations/shared/httpapi"
)

// Routes is every admin route.
var Routes = []httpapi.Route{
	{Method: http.MethodGet, Pattern: "/api/integrations/overview"},
	{Method: http.MethodGet, Pattern: "/api/integrations/developer-guide"},
	{Method: http.MethodGet, Pattern: "/api/integrations/activity"},
	{Method: http.MethodGet, Pattern: "/api/integrations/activity/{id}"},
	{Method: http.MethodPost, Pattern: "/api/integrations/activity/{id}/resend"},
	{Method: http.MethodGet, Pattern: "/api/integrations/webhooks"},
	{Method: http.MethodPost, Pattern: "/api/integrations/webhooks"},
	{Method: http.MethodGet, Pattern: "/api/integrations/webhooks/{id}"},
	{Method: http.MethodPatch, Pattern: "/api/integrations/webhooks/{id}"},
	{Method: http.MethodDelete, Pattern: "/api/integrations/webhooks/{id}"},
	{Method: http.MethodPost, Pattern: "/api/integrations/webhooks/{id}/test"},
	{Method: http.MethodPost, Pattern: "/api/integrations/webhooks/{id}/pause"},
	{Method: http.MethodPost, Pattern: "/api/integrations/webhooks/{id}/resume"},
	{Method: http.MethodPost, Pattern: "/api/integrations/webhooks/{id}/verify"},
	{Method: http.MethodPost, Pattern: "/api/integrations/webhooks/{id}/rotate-secret"},
	{Method: http.MethodPost, Pattern: "/api/integrations/webhooks/{id}/recover"},
	{Method: http.MethodGet, Pattern: "/api/integrations/webhooks/{id}/recoveries/{recoveryId}"},
	{Method: http.MethodGet, Pattern: "/api/integrations/alert-settings"},
	{Method: http.MethodPatch, Pattern: "/api/integrations/alert-settings"},
	{Method: http.MethodGet, Pattern: "/api/integrations/api-keys"},
	{Method: http.MethodPost, Pattern: "/api/integrations/api-keys"},
	{Method: http.MethodPost, Pattern: "/api/integrations/api-keys/{id}/revoke"},
	{Method: http.MethodPost, Pattern: "/api/integrations/api-keys/{id}/roll"},
	{Method: http.MethodPatch, Pattern: "/api/integrations/api-keys/{id}"},
	{Method: http.MethodPost, Pattern: "/api/integrations/secret-scanning"},
	{Method: http.MethodGet, Pattern: "/api/integrations/openapi.yaml"},
	{Method: http.MethodGet, Pattern: "/api/integrations/api-key-policy"},
	{Method: http.MethodPut, Pattern: "/api/integrations/api-key-policy"},
	{Method: http.MethodGet, Pattern: "/api/integrations/entra"},
	{Method: http.MethodPost, Pattern: "/api/integrations/entra/connect"},
	{Method: http.MethodPost, Pattern: "/api/integrations/entra/disconnect"},
	{Method: http.MethodGet, Pattern: "/api/integrations/entra/groups"},
	{Method: http.MethodPut, Pattern: "/api/integrations/entra/mappings"},
	{Method: http.MethodPatch, Pattern: "/api/integrations/entra/settings"},
	{Method: http.MethodPost, Pattern: "/api/integrations/entra/sync"},
	{Method: http.MethodGet, Pattern: "/api/integrations/entra/users"},
	{Method: http.MethodPost, Pattern: "/api/integrations/entra/approvals"},
	{Method: http.MethodGet, Pattern: "/api/integrations/entra/callback"},
}
