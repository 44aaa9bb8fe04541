package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/tenant"
)

// events lists what a receiver got, as "event assetName".
func (rv *receiver) events(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range rv.requests() {
		var body struct {
			Event string         `json:"event"`
			Data  map[string]any `json:"data"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		name, _ := body.Data["assetName"].(string)
		if id, ok := body.Data["assetId"].(string); ok && name == "" {
			name = id // a maintenance record names its asset by id
		}
		out = append(out, body.Event+" "+name)
	}
	slices.Sort(out)
	return out
}

// A webhook scoped to a category gets the events of that category's assets
// alone — the asset's own, its records' (the router reads the asset) and
// its alerts — while an unscoped one gets all. Re-scoped to a department,
// it follows the assignment; {} removes the scope. Bad filters are refused.
func TestScopedWebhook(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	events := []string{"asset.created", "asset.updated", "maintenance.created", "warranty.expiring"}
	body := func(filter any) map[string]any {
		return map[string]any{"name": "Fleet only", "url": "http://127.0.0.1:9/x", "events": events, "filter": filter}
	}
	for _, bad := range []any{
		map[string]any{"categoryName": []string{}}, map[string]any{"color": []string{"red"}}, map[string]any{"type": "truck"},
		map[string]any{"categoryName": []string{"Vehicles", "VEHICLES"}}, map[string]any{"departmentId": []string{""}}, []string{"Vehicles"},
	} {
		expect(t, call(t, "POST", "/api/integrations/webhooks", owner, body(bad)), http.StatusBadRequest, "VALIDATION_ERROR")
	}
	scoped, all := newReceiver(t, nil), newReceiver(t, nil)
	b := body(map[string]any{"categoryName": []string{"vehicles"}})
	b["url"] = scoped.URL
	r := call(t, "POST", "/api/integrations/webhooks", owner, b)
	expect(t, r, http.StatusCreated, "")
	hook := r.json(t)["id"].(string)
	if f, _ := r.json(t)["filter"].(map[string]any); f == nil || len(f["categoryName"].([]any)) != 1 {
		t.Fatalf("created: %s", r.Body)
	}
	createWebhook(t, tid, all.URL, events...)

	key, _ := newKey(t, tid, allPermissions...)
	soon := isoIn(10 * 24 * time.Hour)
	truck := createAsset(t, key, map[string]any{"name": "Truck", "categoryName": "Vehicles", "statusName": "ACTIVE", "warrantyExpiresAt": soon})["assetId"].(string)
	drill := createAsset(t, key, map[string]any{"name": "Drill", "categoryName": "Tools", "statusName": "ACTIVE", "warrantyExpiresAt": soon})["assetId"].(string)
	for _, id := range []string{truck, drill} {
		expect(t, call(t, "POST", "/api/integrations/assets/maintenance", key, map[string]any{"assetId": id, "title": "Service"}), http.StatusCreated, "")
	}
	settled(t, tid)
	want := []string{"asset.created Truck", "maintenance.created " + truck, "warranty.expiring Truck"}
	if got := scoped.events(t); !slices.Equal(got, want) {
		t.Fatalf("the scoped webhook got %v, want %v", got, want)
	}
	if n := len(all.requests()); n != 6 {
		t.Fatalf("the unscoped webhook got %d, want 6: %v", n, all.events(t))
	}

	// Scoped to a department: the drill, once assigned there, is in; the truck is out.
	r = call(t, "PATCH", "/api/integrations/webhooks/"+hook, owner, map[string]any{"filter": map[string]any{"departmentId": []string{"dept_fleet"}}})
	expect(t, r, http.StatusOK, "")
	if f, _ := r.json(t)["filter"].(map[string]any); f == nil || f["categoryName"] != nil || len(f["departmentId"].([]any)) != 1 {
		t.Fatalf("re-scoped: %s", r.Body)
	}
	expect(t, call(t, "POST", "/api/integrations/assets/assignment", key, map[string]any{"assetId": drill, "departmentId": "dept_fleet"}), http.StatusOK, "")
	// The router lists webhooks afresh for each stream batch: the new scope
	// applies to every write made after the PATCH.
	for _, id := range []string{truck, drill} {
		expect(t, call(t, "POST", "/api/integrations/assets/update", key, map[string]any{"assetId": id, "statusName": "IN_REPAIR"}), http.StatusOK, "")
	}
	settled(t, tid)
	want = append(want, "asset.updated Drill")
	slices.Sort(want)
	if got := scoped.events(t); !slices.Equal(got, want) {
		t.Fatalf("after re-scoping the scoped webhook got %v, want %v", got, want)
	}

	// {} removes the scope.
	r = call(t, "PATCH", "/api/integrations/webhooks/"+hook, owner, map[string]any{"filter": map[string]any{}})
	expect(t, r, http.StatusOK, "")
	if r.json(t)["filter"] != nil {
		t.Fatalf("after {}: %s", r.Body)
	}
	expect(t, call(t, "POST", "/api/integrations/assets/update", key, map[string]any{"assetId": truck, "statusName": "ACTIVE"}), http.StatusOK, "")
	waitFor(t, 15*time.Second, "the unscoped webhook's truck update", func() bool { return len(scoped.requests()) == len(want)+1 })
}
