package devstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/uniasset/integrations/shared/apilog"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/tenant"
)

func TestAPIKeyLifecycle(t *testing.T) {
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")

	r := call(t, "POST", "/api/integrations/api-keys", owner, map[string]any{"name": "ERP Connector – Production", "permissions": []string{"asset:create"}})
	expect(t, r, http.StatusCreated, "")
	created := r.json(t)
	key := created["key"].(string)
	if !regexp.MustCompile(`^ua_live_[0-9a-f]{64}$`).MatchString(key) {
		t.Fatalf("key %q does not have the documented format", key)
	}
	if created["prefix"] != key[:12] || created["status"] != "active" || created["lastUsedAt"] != nil || created["createdBy"] != "user-owner" {
		t.Fatalf("unexpected created key: %s", r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("a response carrying a key must not be cached; Cache-Control = %q", r.Header.Get("Cache-Control"))
	}

	// Two uses: the second is served from the verification cache.
	createAsset(t, key, nil)
	createAsset(t, key, nil)

	list := call(t, "GET", "/api/integrations/api-keys", owner, nil)
	expect(t, list, http.StatusOK, "")
	if strings.Contains(string(list.Body), key[12:]) || strings.Contains(string(list.Body), "$2a$") {
		t.Fatalf("the registry leaks the key or its hash: %s", list.Body)
	}
	keys := list.json(t)["apiKeys"].([]any)
	if len(keys) != 1 {
		t.Fatalf("want 1 key, got %d", len(keys))
	}
	row := keys[0].(map[string]any)
	if row["name"] != "ERP Connector – Production" || row["lastUsedAt"] == nil || row["createdAt"] == nil {
		t.Fatalf("registry row lacks name/lastUsedAt/createdAt: %v", row)
	}
	if _, has := row["key"]; has {
		t.Fatal("the list shows the full key")
	}

	rev := call(t, "POST", "/api/integrations/api-keys/"+created["id"].(string)+"/revoke", owner, nil)
	expect(t, rev, http.StatusOK, "")
	if rev.json(t)["status"] != "revoked" {
		t.Fatalf("revoke answered %s", rev.Body)
	}
	// The very next request fails, though the key string is in the verification cache.
	expect(t, call(t, "POST", "/api/integrations/assets/create", key, map[string]any{"name": "x", "categoryName": "c", "statusName": "s"}), http.StatusUnauthorized, "UNAUTHORIZED")

	// Revoked keys stay listed for audit; revoking again changes nothing.
	again := call(t, "POST", "/api/integrations/api-keys/"+created["id"].(string)+"/revoke", owner, nil)
	expect(t, again, http.StatusOK, "")
	if again.json(t)["revokedAt"] != rev.json(t)["revokedAt"] {
		t.Fatal("a second revoke changed revokedAt")
	}
	row = call(t, "GET", "/api/integrations/api-keys", owner, nil).json(t)["apiKeys"].([]any)[0].(map[string]any)
	if row["status"] != "revoked" || row["revokedAt"] == nil || row["revokedBy"] != "user-owner" {
		t.Fatalf("revoked key row: %v", row)
	}
}

func TestAdminKeyRequestsRejected(t *testing.T) {
	tid := newTenant(t, tenant.Enterprise)
	other := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	_, otherID := newKey(t, other, "asset:create")

	cases := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"no name", map[string]any{"permissions": []string{}}, 400, "VALIDATION_ERROR"},
		{"blank name", map[string]any{"name": "  ", "permissions": []string{}}, 400, "VALIDATION_ERROR"},
		{"long name", map[string]any{"name": strings.Repeat("n", 101), "permissions": []string{}}, 400, "VALIDATION_ERROR"},
		{"no permissions", map[string]any{"name": "k"}, 400, "VALIDATION_ERROR"},
		{"unknown permission", map[string]any{"name": "k", "permissions": []string{"asset:delete"}}, 400, "VALIDATION_ERROR"},
		{"duplicate permission", map[string]any{"name": "k", "permissions": []string{"asset:create", "asset:create"}}, 400, "VALIDATION_ERROR"},
		{"wrong type", map[string]any{"name": 7, "permissions": []string{}}, 400, "VALIDATION_ERROR"},
		{"tenant in body", map[string]any{"name": "k", "permissions": []string{}, "tenantId": other}, 400, "VALIDATION_ERROR"},
		{"malformed", `{"name":`, 400, "VALIDATION_ERROR"},
		{"too large", `{"name":"` + strings.Repeat("a", 70<<10) + `","permissions":[]}`, 413, "PAYLOAD_TOO_LARGE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expect(t, call(t, "POST", "/api/integrations/api-keys", owner, c.body), c.status, c.code)
		})
	}
	if n := len(call(t, "GET", "/api/integrations/api-keys", owner, nil).json(t)["apiKeys"].([]any)); n != 0 {
		t.Fatalf("rejected requests wrote %d keys", n)
	}
	// Another tenant's key id is simply not found; it stays active.
	expect(t, call(t, "POST", "/api/integrations/api-keys/"+otherID+"/revoke", owner, nil), 404, "NOT_FOUND")
	expect(t, call(t, "POST", "/api/integrations/api-keys/not-an-id/revoke", owner, nil), 404, "NOT_FOUND")
	row := call(t, "GET", "/api/integrations/api-keys", token(t, other, "Owner"), nil).json(t)["apiKeys"].([]any)[0].(map[string]any)
	if row["status"] != "active" {
		t.Fatal("another tenant's owner revoked a key")
	}
}

func TestAdminRolesAndPlans(t *testing.T) {
	enterprise := newTenant(t, tenant.Enterprise)
	growth := newTenant(t, tenant.Growth)
	starter := newTenant(t, tenant.Starter)
	for _, role := range []string{"Admin", "Manager", "Member", "Viewer"} {
		expect(t, call(t, "GET", "/api/integrations/api-keys", token(t, enterprise, role), nil), 403, "FORBIDDEN")
	}
	expect(t, call(t, "GET", "/api/integrations/api-keys", token(t, growth, "Owner"), nil), 200, "")
	expect(t, call(t, "GET", "/api/integrations/api-keys", token(t, starter, "Owner"), nil), 403, "PLAN_UPGRADE_REQUIRED")
	// Role is checked before plan.
	expect(t, call(t, "GET", "/api/integrations/api-keys", token(t, starter, "Viewer"), nil), 403, "FORBIDDEN")

	// The gateway's authorizer answers for missing and forged tokens, as API Gateway does.
	for _, bearer := range []string{"", "not-a-jwt", forged(t, enterprise)} {
		r := call(t, "GET", "/api/integrations/api-keys", bearer, nil)
		if r.Status != 401 {
			t.Fatalf("token %q: status %d", bearer, r.Status)
		}
	}
}

// forged is a token with the right claims signed by a different key.
func forged(t *testing.T, tenantID string) string {
	t.Helper()
	tok := token(t, tenantID, "Owner")
	parts := strings.Split(tok, ".")
	return parts[0] + "." + parts[1] + ".AAAA" + parts[2][4:]
}

func TestIntegrationEndpointsWriteAssets(t *testing.T) {
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, allPermissions...)

	a := createAsset(t, key, map[string]any{"name": "Forklift A-17", "categoryName": "Vehicles", "statusName": "ACTIVE", "externalId": "ERP-17", "serialNumber": "SN-1"})
	id := a["assetId"].(string)
	item := assetItem(t, tid, id)
	if str(item["assetName"]) != "Forklift A-17" || str(item["externalId"]) != "ERP-17" || str(item["tenantId"]) != tid {
		t.Fatalf("AssetsTable item: %v", item)
	}

	r := call(t, "POST", "/api/integrations/assets/update", key, map[string]any{"assetId": id, "statusName": "IN_REPAIR", "serialNumber": nil})
	expect(t, r, 200, "")
	if got := r.json(t); got["statusName"] != "IN_REPAIR" || got["serialNumber"] != nil || got["version"].(float64) != 2 {
		t.Fatalf("update answered %s", r.Body)
	}
	if item := assetItem(t, tid, id); str(item["statusName"]) != "IN_REPAIR" || item["serialNumber"] != nil {
		t.Fatalf("update not stored: %v", item)
	}

	// By externalId instead of assetId.
	r = call(t, "POST", "/api/integrations/assets/maintenance", key, map[string]any{"externalId": "ERP-17", "title": "Oil change", "dueAt": "2026-12-01"})
	expect(t, r, 201, "")
	if m := r.json(t); m["assetId"] != id || m["status"] != "scheduled" || m["dueAt"] != "2026-12-01T00:00:00.000Z" {
		t.Fatalf("maintenance answered %s", r.Body)
	}

	r = call(t, "POST", "/api/integrations/assets/assignment", key, map[string]any{"assetId": id, "userId": "user_42", "departmentId": "dept_7"})
	expect(t, r, 200, "")
	if item := assetItem(t, tid, id); str(item["assignedUserId"]) != "user_42" || str(item["assignedDepartmentId"]) != "dept_7" {
		t.Fatalf("assignment not stored: %v", item)
	}
	r = call(t, "POST", "/api/integrations/assets/assignment", key, map[string]any{"assetId": id, "userId": nil})
	expect(t, r, 200, "")
	if item := assetItem(t, tid, id); item["assignedUserId"] != nil || str(item["assignedDepartmentId"]) != "dept_7" {
		t.Fatalf("null did not clear only the user: %v", item)
	}

	now := time.Now().UTC()
	r = call(t, "POST", "/api/integrations/assets/geo-position", key, map[string]any{"assetId": id, "latitude": 52.52, "longitude": 13.405, "accuracy": 4.5, "recordedAt": now.Format(time.RFC3339)})
	expect(t, r, 200, "")
	gp := r.json(t)["geoPosition"].(map[string]any)
	if gp["latitude"] != 52.52 || gp["longitude"] != 13.405 || gp["accuracy"] != 4.5 {
		t.Fatalf("geo-position answered %s", r.Body)
	}
	// A reading older than the stored one (a device retrying late) is acknowledged but not applied.
	r = call(t, "POST", "/api/integrations/assets/geo-position", key, map[string]any{"assetId": id, "latitude": 1, "longitude": 1, "recordedAt": now.Add(-time.Hour).Format(time.RFC3339)})
	expect(t, r, 200, "")
	if gp := r.json(t)["geoPosition"].(map[string]any); gp["latitude"] != 52.52 {
		t.Fatalf("an older reading overwrote a newer one: %s", r.Body)
	}

	// A second asset may not take the same externalId.
	expect(t, call(t, "POST", "/api/integrations/assets/create", key, map[string]any{"name": "n", "categoryName": "c", "statusName": "s", "externalId": "ERP-17"}), 409, "CONFLICT")
	if n := tenantAssetCount(t, tid); n != 1 {
		t.Fatalf("want 1 asset, found %d", n)
	}
}

func TestIntegrationPlanAndPermissionGates(t *testing.T) {
	growth := newTenant(t, tenant.Growth)
	enterprise := newTenant(t, tenant.Enterprise)
	asset := map[string]any{"name": "n", "categoryName": "c", "statusName": "s"}

	// Key creation is open to Growth owners; using the key is not.
	growthKey, _ := newKey(t, growth, allPermissions...)
	expect(t, call(t, "POST", "/api/integrations/assets/create", growthKey, asset), 403, "ENTERPRISE_REQUIRED")
	growthNoPerm, _ := newKey(t, growth)
	expect(t, call(t, "POST", "/api/integrations/assets/create", growthNoPerm, asset), 403, "ENTERPRISE_REQUIRED")

	onlyCreate, _ := newKey(t, enterprise, "asset:create")
	a := createAsset(t, onlyCreate, nil)
	for _, path := range []string{"update", "maintenance", "assignment", "geo-position"} {
		expect(t, call(t, "POST", "/api/integrations/assets/"+path, onlyCreate, map[string]any{"assetId": a["assetId"]}), 403, "INSUFFICIENT_PERMISSIONS")
	}
	none, _ := newKey(t, enterprise)
	// Permission is checked before the body: even a malformed body gets 403.
	expect(t, call(t, "POST", "/api/integrations/assets/create", none, `{"broken`), 403, "INSUFFICIENT_PERMISSIONS")
	if n := tenantAssetCount(t, growth); n != 0 {
		t.Fatalf("refused requests wrote %d assets", n)
	}
}

func TestBadAuthorizationHeaders(t *testing.T) {
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, allPermissions...)
	revoked, revokedID := newKey(t, tid, allPermissions...)
	expect(t, call(t, "POST", "/api/integrations/api-keys/"+revokedID+"/revoke", token(t, tid, "Owner"), nil), 200, "")
	// Same lookup prefix, different secret: found, then refused by bcrypt.
	flipped := byte('0')
	if key[71] == '0' {
		flipped = '1'
	}
	sameLookupWrongSecret := key[:71] + string(flipped)
	headers := map[string]string{
		"missing":                "",
		"empty bearer":           "Bearer ",
		"garbage":                "garbage",
		"wrong scheme":           "Basic " + key,
		"wrong prefix":           "Bearer ua_test_" + key[8:],
		"63 hex":                 "Bearer " + key[:71],
		"65 hex":                 "Bearer " + key + "a",
		"uppercase hex":          "Bearer ua_live_" + strings.ToUpper(key[8:]),
		"prefix matches":         "Bearer " + sameLookupWrongSecret,
		"unknown key":            "Bearer ua_live_" + strings.Repeat("ab", 32),
		"revoked":                "Bearer " + revoked,
		"key with trailing junk": "Bearer " + key + " x",
	}
	for name, h := range headers {
		t.Run(name, func(t *testing.T) {
			r := call(t, "POST", "/api/integrations/assets/create", "", map[string]any{"name": "n", "categoryName": "c", "statusName": "s"}, "Authorization", h)
			expect(t, r, 401, "UNAUTHORIZED")
			if strings.Contains(string(r.Body), key[12:]) {
				t.Fatal("the error echoes the key")
			}
		})
	}
	if n := tenantAssetCount(t, tid); n != 0 {
		t.Fatalf("unauthenticated requests wrote %d assets", n)
	}
}

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

func TestIdempotencyKey(t *testing.T) {
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, allPermissions...)
	body := map[string]any{"name": "Sensor 1", "categoryName": "IoT", "statusName": "ACTIVE"}

	first := call(t, "POST", "/api/integrations/assets/create", key, body, "Idempotency-Key", "dev-42-reading-1")
	expect(t, first, 201, "")
	retry := call(t, "POST", "/api/integrations/assets/create", key, body, "Idempotency-Key", "dev-42-reading-1")
	expect(t, retry, 201, "")
	if string(retry.Body) != string(first.Body) || retry.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry was not a replay:\n%s\n%s", first.Body, retry.Body)
	}
	changed := map[string]any{"name": "Sensor 2", "categoryName": "IoT", "statusName": "ACTIVE"}
	expect(t, call(t, "POST", "/api/integrations/assets/create", key, changed, "Idempotency-Key", "dev-42-reading-1"), 409, "IDEMPOTENCY_CONFLICT")
	expect(t, call(t, "POST", "/api/integrations/assets/create", key, body, "Idempotency-Key", strings.Repeat("k", 256)), 400, "VALIDATION_ERROR")
	expect(t, call(t, "POST", "/api/integrations/assets/create", key, body, "Idempotency-Key", "has space"), 400, "VALIDATION_ERROR")
	if n := tenantAssetCount(t, tid); n != 1 {
		t.Fatalf("want 1 asset, found %d", n)
	}

	// A failed request is not stored: after fixing what failed, the same key runs.
	bad := map[string]any{"assetId": "asset_missing", "title": "t"}
	expect(t, call(t, "POST", "/api/integrations/assets/maintenance", key, bad, "Idempotency-Key", "m-1"), 404, "NOT_FOUND")
	expect(t, call(t, "POST", "/api/integrations/assets/maintenance", key, bad, "Idempotency-Key", "m-1"), 404, "NOT_FOUND")

	// Eight devices' worth of concurrent retries of one request make one asset.
	burst := map[string]any{"name": "Burst", "categoryName": "IoT", "statusName": "ACTIVE"}
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	bodies := make([]string, 8)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := call(t, "POST", "/api/integrations/assets/create", key, burst, "Idempotency-Key", "burst-1")
			statuses[i], bodies[i] = r.Status, string(r.Body)
		}()
	}
	wg.Wait()
	var assetBody string
	for i, s := range statuses {
		switch s {
		case 201:
			if assetBody != "" && bodies[i] != assetBody {
				t.Fatalf("two different successes for one key:\n%s\n%s", assetBody, bodies[i])
			}
			assetBody = bodies[i]
		case 409:
			if !strings.Contains(bodies[i], "IDEMPOTENCY_IN_PROGRESS") {
				t.Fatalf("unexpected 409: %s", bodies[i])
			}
		default:
			t.Fatalf("status %d: %s", s, bodies[i])
		}
	}
	if n := tenantAssetCount(t, tid); n != 2 {
		t.Fatalf("want 2 assets after the burst, found %d", n)
	}
}

func TestCallsAreLoggedRedacted(t *testing.T) {
	tid := newTenant(t, tenant.Enterprise)
	key, keyID := newKey(t, tid, allPermissions...)
	createAsset(t, key, nil)
	// A rejected body with secrets in it: logged, and redacted.
	expect(t, call(t, "POST", "/api/integrations/assets/create", key,
		`{"name":"n","categoryName":"c","statusName":"s","password":"hunter2","notes":{"card":"4111 1111 1111 1111"}}`), 400, "VALIDATION_ERROR")

	entries := callLog(t, tid)
	if len(entries) != 2 {
		t.Fatalf("want 2 log entries, got %d", len(entries))
	}
	newest, oldest := entries[0], entries[1]
	if newest.Status != 400 || newest.ErrorCode != "VALIDATION_ERROR" || oldest.Status != 201 {
		t.Fatalf("entries not newest first with statuses: %+v / %+v", newest, oldest)
	}
	if oldest.Endpoint != "/api/integrations/assets/create" || oldest.APIKeyID != keyID || oldest.APIKeyName != "key "+t.Name() || oldest.SourceIP != "127.0.0.1" {
		t.Fatalf("entry lacks endpoint/key/source ip: %+v", oldest)
	}
	raw, _ := json.Marshal(entries)
	for _, secret := range []string{key, key[12:], "hunter2", "4111 1111 1111 1111"} {
		if strings.Contains(string(raw), secret) {
			t.Fatalf("the log holds %q: %s", secret, raw)
		}
	}
	if newest.RequestHeaders["authorization"] != "[REDACTED]" || !strings.Contains(newest.RequestBody, `"password":"[REDACTED]"`) {
		t.Fatalf("not redacted: %v %s", newest.RequestHeaders, newest.RequestBody)
	}
	// Unauthenticated calls belong to no tenant and are not in any tenant's log.
	call(t, "POST", "/api/integrations/assets/create", "ua_live_"+strings.Repeat("0", 64), map[string]any{})
	if again := callLog(t, tid); len(again) != 2 {
		t.Fatalf("an unauthenticated call was logged to the tenant")
	}
}

// callLog reads the tenant's API call log, newest first, from every shard.
func callLog(t *testing.T, tenantID string) []apilog.Entry {
	t.Helper()
	pks := dynamo.ShardPKs(stack.Config.IntegrationAPI.APILogShards, func(i int) string { return keyschema.APILogPK(tenantID, i) })
	items, err := dynamo.NewestAcrossShards(context.Background(), stack.DB, dynamo.ShardQuery{Table: stack.IntegrationsTable, PKs: pks, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []apilog.Entry
	if err := attributevalue.UnmarshalListOfMaps(items, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// Claims of the wrong JSON type are refused: API Gateway flattens every claim
// to a string, so a tenant_id sent as the number 4242 would otherwise act as
// tenant "4242".
func TestTokenClaimsOfTheWrongTypeRefused(t *testing.T) {
	t.Parallel()
	store := &tenant.Store{DB: stack.DB, Table: stack.IntegrationsTable}
	numeric := fmt.Sprint(4_000_000 + seq.Add(1))
	if err := store.Put(context.Background(), tenant.Profile{TenantID: numeric, Name: t.Name(), Plan: tenant.Enterprise}); err != nil {
		t.Fatal(err)
	}
	good := map[string]any{"tenant_id": numeric, "role": "Owner", "sub": "user-owner"}
	sign := func(change map[string]any) string {
		claims := map[string]any{}
		for k, v := range good {
			claims[k] = v
		}
		for k, v := range change {
			claims[k] = v
		}
		tok, err := stack.Issuer.Sign(claims, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	n, _ := strconv.Atoi(numeric)
	expect(t, call(t, "GET", "/api/integrations/webhooks", sign(nil), nil), http.StatusOK, "")
	for name, change := range map[string]map[string]any{
		"tenant_id as a number": {"tenant_id": n},
		"tenant_id as a list":   {"tenant_id": []string{numeric}},
		"role as a list":        {"role": []string{"Owner"}},
		"sub as a number":       {"sub": 7},
		"sub as an object":      {"sub": map[string]any{"id": "x"}},
		"role as null":          {"role": nil},
		"sub with an escape":    {"sub": "user\x1b[31m"},
		"sub with a bidi mark":  {"sub": "user\u202e"},
		"sub too long":          {"sub": strings.Repeat("u", 257)},
	} {
		t.Run(name, func(t *testing.T) {
			expect(t, call(t, "GET", "/api/integrations/webhooks", sign(change), nil), http.StatusUnauthorized, "UNAUTHORIZED")
		})
	}
}
