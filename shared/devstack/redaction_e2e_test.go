package devstack_test

import (
	"strings"
	"testing"

	"github.com/uniasset/integrations/shared/tenant"
)

// Secrets a client sends anywhere in a request (headers the API reads, headers
// it does not, a body that parses and one that does not) never come back from
// the Activity Log.
func TestActivityDetailRedactsEverythingTakenFromTheRequest(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, allPermissions...)
	owner := token(t, tid, "Owner")
	leakedKey := "ua_live_" + strings.Repeat("9f", 32)
	card := "4111111111111111"

	// A valid create: a card in the User-Agent, the Idempotency-Key, a custom
	// header (touching letters), as a JSON number and as an object key.
	created := call(t, "POST", "/api/integrations/assets/create", key,
		`{"name":"Pump","categoryName":"V","statusName":"A","description":"SN`+card+`"}`,
		"User-Agent", "erp-sync/1.0 "+leakedKey+" "+card,
		"Idempotency-Key", "order-4111.1111.1111.1111",
		"X-Note", "card_"+card+"_end",
		"X-Pwd", "hunter2")
	expect(t, created, 201, "")
	// Refused bodies are logged too: a malformed one, and one naming secrets
	// in fields the API does not know.
	expect(t, call(t, "POST", "/api/integrations/assets/create", key, `{"name":"x","pass":"hunter2","pwd":"hunter2","card":`+card+`,"`+card+`":1,"password":"hunter2`), 400, "VALIDATION_ERROR")
	expect(t, call(t, "POST", "/api/integrations/assets/create", key, `{"pin":"hunter2","cardNumber":4.111111111111111e15,"other":"٤١١١١١١١١١١١١١١١"}`), 400, "VALIDATION_ERROR")

	list := call(t, "GET", "/api/integrations/activity?source=api", owner, nil)
	expect(t, list, 200, "")
	rows, _ := list.json(t)["rows"].([]any)
	if len(rows) != 3 {
		t.Fatalf("want 3 API rows, got %d: %s", len(rows), list.Body)
	}
	for _, r := range rows {
		d := call(t, "GET", "/api/integrations/activity/"+r.(map[string]any)["id"].(string), owner, nil)
		expect(t, d, 200, "")
		body := string(d.Body)
		for _, secret := range []string{leakedKey, "4111", "hunter2", "٤١١١"} {
			if strings.Contains(body, secret) {
				t.Errorf("activity detail shows %q: %s", secret, body)
			}
		}
		if !strings.Contains(body, "[REDACTED]") {
			t.Errorf("nothing was marked redacted: %s", body)
		}
	}
}
