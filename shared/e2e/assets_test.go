package e2e

import (
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/tenant"
)

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
