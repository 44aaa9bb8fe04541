package devstack_test

import (
	"strings"
	"testing"

	"github.com/uniasset/integrations/shared/tenant"
)

// Lead times: defaults until changed, each change kept, bad values refused
// with the field named and nothing written.
func TestAlertSettings(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	const path = "/api/integrations/alert-settings"
	got := call(t, "GET", path, owner, nil).json(t)
	if got["maintenanceDays"] != 7.0 || got["documentDays"] != 30.0 || got["warrantyDays"] != 30.0 || got["updatedAt"] != nil {
		t.Fatalf("defaults: %v", got)
	}
	r := call(t, "PATCH", path, owner, map[string]any{"maintenanceDays": 14, "warrantyDays": 90})
	expect(t, r, 200, "")
	if m := r.json(t); m["maintenanceDays"] != 14.0 || m["documentDays"] != 30.0 || m["warrantyDays"] != 90.0 || m["updatedBy"] == nil {
		t.Fatalf("after the change: %v", m)
	}
	for body, field := range map[string]string{
		`{"maintenanceDays":0}`:                "maintenanceDays",
		`{"documentDays":181}`:                 "documentDays",
		`{"warrantyDays":"30"}`:                "warrantyDays",
		`{"warrantyDays":7.5}`:                 "warrantyDays",
		`{"warrantyDays":null}`:                "body",
		`{"leadDays":3}`:                       "leadDays",
		`{}`:                                   "body",
		`{"maintenanceDays":1e400}`:            "maintenanceDays",
		`{"maintenanceDays":9007199254740993}`: "maintenanceDays",
	} {
		r := call(t, "PATCH", path, owner, []byte(body))
		expect(t, r, 400, "VALIDATION_ERROR")
		if !strings.Contains(string(r.Body), `"field":"`+field+`"`) {
			t.Errorf("%s: the error does not name %s: %s", body, field, r.Body)
		}
	}
	if m := call(t, "GET", path, owner, nil).json(t); m["maintenanceDays"] != 14.0 || m["warrantyDays"] != 90.0 {
		t.Fatalf("a refused change wrote something: %v", m)
	}
	expect(t, call(t, "PATCH", path, token(t, tid, "Admin"), map[string]any{"maintenanceDays": 3}), 403, "FORBIDDEN")
	expect(t, call(t, "GET", path, token(t, newTenant(t, tenant.Growth), "Owner"), nil), 403, "ENTERPRISE_REQUIRED")
	other := newTenant(t, tenant.Enterprise)
	if m := call(t, "GET", path, token(t, other, "Owner"), nil).json(t); m["maintenanceDays"] != 7.0 {
		t.Fatalf("another tenant sees this tenant's settings: %v", m)
	}
}
