package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/uniasset/integrations/shared/adminapi"
	"github.com/uniasset/integrations/shared/httpapi"
	"github.com/uniasset/integrations/shared/integrationapi"
	"github.com/uniasset/integrations/shared/tenant"
)

func TestBadBodies(t *testing.T) {
	tid := newTenant(t, tenant.Enterprise)
	other := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, allPermissions...)
	otherKey, _ := newKey(t, other, allPermissions...)
	theirs := createAsset(t, otherKey, map[string]any{"name": "Theirs", "categoryName": "c", "statusName": "s", "externalId": "THEIRS-1"})
	theirID := theirs["assetId"].(string)
	mine := createAsset(t, key, nil)["assetId"].(string)

	long := strings.Repeat("x", 201)
	cases := []struct {
		path, body string
		status     int
		code       string
	}{
		{"create", `{"name":"a","categoryName":"c",`, 400, "VALIDATION_ERROR"},
		{"create", `[{"name":"a"}]`, 400, "VALIDATION_ERROR"},
		{"create", `"just a string"`, 400, "VALIDATION_ERROR"},
		{"create", ``, 400, "VALIDATION_ERROR"},
		{"create", `{"name":"a","categoryName":"c","statusName":"s"} {"again":1}`, 400, "VALIDATION_ERROR"},
		{"create", `{"name":"a","categoryName":"c","statusName":"s","color":"red"}`, 400, "VALIDATION_ERROR"},
		{"create", `{"name":"a","categoryName":"c","statusName":"s","tenantId":"` + other + `"}`, 400, "VALIDATION_ERROR"},
		{"create", `{"name":5,"categoryName":"c","statusName":"s"}`, 400, "VALIDATION_ERROR"},
		{"create", `{"categoryName":"c","statusName":"s"}`, 400, "VALIDATION_ERROR"},
		{"create", `{"name":"` + long + `","categoryName":"c","statusName":"s"}`, 400, "VALIDATION_ERROR"},
		{"create", `{"name":"a\u0000b","categoryName":"c","statusName":"s"}`, 400, "VALIDATION_ERROR"},
		{"create", `{"name":"` + strings.Repeat("a", 65<<10) + `"}`, 413, "PAYLOAD_TOO_LARGE"},
		{"update", `{"assetId":"` + mine + `"}`, 400, "VALIDATION_ERROR"},
		{"update", `{"assetId":"` + mine + `","externalId":"X","name":"n"}`, 400, "VALIDATION_ERROR"},
		{"update", `{"assetId":"a#b","name":"n"}`, 400, "VALIDATION_ERROR"},
		{"update", `{"assetId":"` + theirID + `","name":"mine now"}`, 404, "NOT_FOUND"},
		{"update", `{"externalId":"THEIRS-1","name":"mine now"}`, 404, "NOT_FOUND"},
		{"maintenance", `{"assetId":"` + theirID + `","title":"t"}`, 404, "NOT_FOUND"},
		{"maintenance", `{"assetId":"` + mine + `"}`, 400, "VALIDATION_ERROR"},
		{"maintenance", `{"assetId":"` + mine + `","title":"t","dueAt":"next tuesday"}`, 400, "VALIDATION_ERROR"},
		{"assignment", `{"assetId":"` + theirID + `","userId":"u"}`, 404, "NOT_FOUND"},
		{"assignment", `{"assetId":"` + mine + `"}`, 400, "VALIDATION_ERROR"},
		{"assignment", `{"assetId":"` + mine + `","userId":42}`, 400, "VALIDATION_ERROR"},
		{"geo-position", `{"assetId":"` + mine + `","latitude":90.5,"longitude":0}`, 400, "VALIDATION_ERROR"},
		{"geo-position", `{"assetId":"` + mine + `","latitude":-91,"longitude":0}`, 400, "VALIDATION_ERROR"},
		{"geo-position", `{"assetId":"` + mine + `","latitude":0,"longitude":180.01}`, 400, "VALIDATION_ERROR"},
		{"geo-position", `{"assetId":"` + mine + `","latitude":0,"longitude":-181}`, 400, "VALIDATION_ERROR"},
		{"geo-position", `{"assetId":"` + mine + `","latitude":"52","longitude":13}`, 400, "VALIDATION_ERROR"},
		{"geo-position", `{"assetId":"` + mine + `","longitude":13}`, 400, "VALIDATION_ERROR"},
		{"geo-position", `{"assetId":"` + mine + `","latitude":1,"longitude":1,"accuracy":-1}`, 400, "VALIDATION_ERROR"},
		{"geo-position", `{"assetId":"` + mine + `","latitude":1,"longitude":1,"recordedAt":"2999-01-01T00:00:00Z"}`, 400, "VALIDATION_ERROR"},
		{"geo-position", `{"assetId":"` + theirID + `","latitude":1,"longitude":1}`, 404, "NOT_FOUND"},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%02d_%s", i, c.path), func(t *testing.T) {
			r := call(t, "POST", "/api/integrations/assets/"+c.path, key, c.body)
			expect(t, r, c.status, c.code)
			if strings.Contains(string(r.Body), "Theirs") {
				t.Fatal("another tenant's data leaked into the response")
			}
		})
	}
	// Nothing was written: one asset each, theirs untouched.
	if n := tenantAssetCount(t, tid); n != 1 {
		t.Fatalf("want 1 asset, found %d", n)
	}
	if item := assetItem(t, other, theirID); str(item["assetName"]) != "Theirs" || item["geoPosition"] != nil || item["assignedUserId"] != nil {
		t.Fatalf("the other tenant's asset changed: %v", item)
	}
	expect(t, call(t, "POST", "/api/integrations/assets/create", key, `{}`, "Content-Type", "text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE")
}

func TestRoutingErrors(t *testing.T) {
	expect(t, call(t, "GET", "/api/integrations/assets/create", "", nil), 405, "METHOD_NOT_ALLOWED")
	r := call(t, "DELETE", "/api/integrations/api-keys", "", nil)
	expect(t, r, 405, "METHOD_NOT_ALLOWED")
	if r.Header.Get("Allow") != "GET, POST" {
		t.Errorf("Allow = %q", r.Header.Get("Allow"))
	}
	expect(t, call(t, "POST", "/api/integrations/assets/delete", "", nil), 404, "NOT_FOUND")
	expect(t, call(t, "GET", "/", "", nil), 404, "NOT_FOUND")
}

// examplePath fills a route pattern's wildcards with a sample value.
func examplePath(pattern string) string {
	return regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(pattern, "key_00000000000000000000000000")
}

// The template routes each path to the function whose router serves it, and
// nothing a router serves is missing from the template.
func TestTemplateRoutesMatchRouters(t *testing.T) {
	served := map[string][]httpapi.Route{
		"IntegrationApiFunction": integrationapi.Routes,
		"AdminApiFunction":       adminapi.Routes,
	}
	templated := map[string][]httpapi.Route{}
	defaults := 0
	for _, r := range stack.Template.Routes() {
		if r.Path == "" {
			defaults++
			if r.Function != "IntegrationApiFunction" {
				t.Errorf("$default goes to %s; the integration function answers unknown routes", r.Function)
			}
			continue
		}
		templated[r.Function] = append(templated[r.Function], httpapi.Route{Method: r.Method, Pattern: r.Path})
		// Every admin route but Microsoft's consent redirect, which a browser
		// brings without a token (its state is the credential), a secret
		// scanner's leak report (its signature is), and the OpenAPI document
		// (no tenant's data).
		want := r.Function == "AdminApiFunction" && r.Path != "/api/integrations/entra/callback" && r.Path != "/api/integrations/secret-scanning" &&
			r.Path != "/api/integrations/openapi.yaml"
		if r.JWT != want {
			t.Errorf("%s %s: JWT authorizer = %v, want %v", r.Method, r.Path, r.JWT, want)
		}
	}
	if defaults != 1 {
		t.Errorf("%d $default routes", defaults)
	}
	less := func(a, b httpapi.Route) int {
		if a.Pattern != b.Pattern {
			if a.Pattern < b.Pattern {
				return -1
			}
			return 1
		}
		if a.Method < b.Method {
			return -1
		}
		return 0
	}
	for fn, routes := range served {
		want, got := slices.Clone(routes), templated[fn]
		slices.SortFunc(want, less)
		slices.SortFunc(got, less)
		if !slices.Equal(want, got) {
			t.Errorf("%s: router serves %v, template routes %v", fn, want, got)
		}
		// And the router really answers each of them (no 404/405 from the router itself).
		h := stack.Handlers[fn]
		for _, r := range routes {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(r.Method, "http://x"+examplePath(r.Pattern), nil))
			if rec.Code == http.StatusMethodNotAllowed || strings.Contains(rec.Body.String(), "no route for") {
				t.Errorf("%s does not serve %s %s: %d %s", fn, r.Method, r.Pattern, rec.Code, rec.Body)
			}
		}
	}
}
