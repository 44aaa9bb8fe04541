package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/uniasset/integrations/shared/apilog"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/tenant"
)

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
	for _, it := range items {
		e, _, err := apilog.EntryFromItem(it)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

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
		// Whole runs of the card, not "4111": a random request id holds
		// four such hex digits about once in a thousand runs.
		for _, secret := range []string{leakedKey, card[:8], "111111111", "hunter2", "٤١١١"} {
			if strings.Contains(body, secret) {
				t.Errorf("activity detail shows %q: %s", secret, body)
			}
		}
		if !strings.Contains(body, "[REDACTED]") {
			t.Errorf("nothing was marked redacted: %s", body)
		}
	}
}
