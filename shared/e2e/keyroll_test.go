package e2e

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/uniasset/integrations/shared/apikey"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/tenant"
)

// works reports whether key authenticates on the integration API (a
// create with no body: 400 past the key check, 401 before it).
func works(t *testing.T, key string) bool {
	t.Helper()
	r := call(t, "POST", "/api/integrations/assets/create", key, map[string]any{})
	if r.Status != http.StatusBadRequest && r.Status != http.StatusUnauthorized {
		t.Fatalf("a key probe answered %d: %s", r.Status, r.Body)
	}
	return r.Status == http.StatusBadRequest
}

// expireAt moves a key's end, as the passing of time would.
func expireAt(t *testing.T, tenantID, keyID string, at time.Time) {
	t.Helper()
	_, err := stack.DB.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String(stack.IntegrationsTable), Key: keyschema.APIKey(tenantID, keyID).Attrs(),
		UpdateExpression: aws.String("SET validUntil = :at"), ExpressionAttributeValues: map[string]types.AttributeValue{":at": sv(isotime.Format(at))},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A roll gives a new key of the same name and permissions; both work until
// the overlap ends (the old key's end moved to now stands for the clock),
// then only the new one, on the very next request. The registry shows the
// pair; a rolled, revoked or expired key cannot be rolled again; overlap 0
// ends the old key at once; bad bodies, other tenants and other roles are
// refused; a System row names who rolled it and holds no key.
func TestRollKey(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	old, oldID := newKey(t, tid, "asset:create")
	roll := "/api/integrations/api-keys/" + oldID + "/roll"
	for _, bad := range []any{map[string]any{"overlapHours": -1}, map[string]any{"overlapHours": 169}, map[string]any{"overlapHours": "24"},
		map[string]any{"overlap": 1}, []any{}} {
		expect(t, call(t, "POST", roll, owner, bad), http.StatusBadRequest, "VALIDATION_ERROR")
	}
	expect(t, call(t, "POST", roll, token(t, tid, "Admin"), nil), http.StatusForbidden, "FORBIDDEN")
	expect(t, call(t, "POST", roll, token(t, newTenant(t, tenant.Enterprise), "Owner"), nil), http.StatusNotFound, "NOT_FOUND")
	expect(t, call(t, "POST", "/api/integrations/api-keys/key_nope/roll", owner, nil), http.StatusNotFound, "NOT_FOUND")

	before := time.Now()
	r := call(t, "POST", roll, owner, map[string]any{"overlapHours": 2})
	expect(t, r, http.StatusCreated, "")
	got := r.json(t)
	next, nextID := asString(got["key"]), asString(got["id"])
	prev, _ := got["previous"].(map[string]any)
	until, _ := time.Parse(time.RFC3339, asString(prev["expiresAt"]))
	if !strings.HasPrefix(next, "ua_live_") || next == old || got["name"] != "key "+t.Name() || got["rolledFrom"] != oldID ||
		prev["rolledTo"] != nextID || prev["status"] != "active" || until.Before(before.Add(2*time.Hour-time.Minute)) || until.After(time.Now().Add(2*time.Hour)) {
		t.Fatalf("roll answered %s", r.Body)
	}
	if !works(t, old) || !works(t, next) {
		t.Fatal("during the overlap both keys must work")
	}
	createAsset(t, next, nil) // with the same permissions
	expect(t, call(t, "POST", roll, owner, nil), http.StatusConflict, "CONFLICT")

	expireAt(t, tid, oldID, time.Now().Add(-time.Second)) // the overlap ends
	if works(t, old) || !works(t, next) {
		t.Fatal("after the overlap only the new key may work")
	}
	rows := call(t, "GET", "/api/integrations/api-keys", owner, nil).json(t)["apiKeys"].([]any)
	statuses := map[string]any{}
	for _, row := range rows {
		m := row.(map[string]any)
		statuses[asString(m["id"])] = m["status"]
	}
	if statuses[oldID] != "expired" || statuses[nextID] != "active" {
		t.Fatalf("registry: %v", statuses)
	}
	expect(t, call(t, "POST", roll, owner, nil), http.StatusConflict, "CONFLICT") // expired and rolled

	// Overlap 0: the old key stops now.
	r = call(t, "POST", "/api/integrations/api-keys/"+nextID+"/roll", owner, map[string]any{"overlapHours": 0})
	expect(t, r, http.StatusCreated, "")
	third := asString(r.json(t)["key"])
	if works(t, next) || !works(t, third) {
		t.Fatal("overlap 0 must end the old key at once")
	}
	sys := call(t, "GET", "/api/integrations/activity?source=system", owner, nil)
	if strings.Count(string(sys.Body), `"event":"apikey.rolled"`) != 2 || strings.Contains(string(sys.Body), next[12:]) || strings.Contains(string(sys.Body), third[12:]) {
		t.Fatalf("System rows: %s", sys.Body)
	}
}

// A key created with expiresAt works until then and answers 401 from then
// on, cached or not; the registry shows when it expires; a time in the past
// or not a time is refused.
func TestKeyExpiry(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	for _, bad := range []any{"2020-01-01T00:00:00Z", "tomorrow", 7, isotime.Format(time.Now().AddDate(11, 0, 0))} {
		expect(t, call(t, "POST", "/api/integrations/api-keys", owner, map[string]any{"name": "x", "permissions": []string{}, "expiresAt": bad}), http.StatusBadRequest, "VALIDATION_ERROR")
	}
	at := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	r := call(t, "POST", "/api/integrations/api-keys", owner, map[string]any{"name": "Expiring", "permissions": []string{"asset:create"}, "expiresAt": at.Format(time.RFC3339)})
	expect(t, r, http.StatusCreated, "")
	key, id := asString(r.json(t)["key"]), asString(r.json(t)["id"])
	if shown, _ := time.Parse(time.RFC3339, asString(r.json(t)["expiresAt"])); !shown.Equal(at) {
		t.Fatalf("expiresAt shown as %v, want %v", r.json(t)["expiresAt"], at)
	}
	if !works(t, key) || !works(t, key) { // the second from the cache
		t.Fatal("an unexpired key refused")
	}
	expireAt(t, tid, id, time.Now().Add(-time.Second))
	if works(t, key) {
		t.Fatal("an expired key still works")
	}
	if ov := call(t, "GET", "/api/integrations/overview", owner, nil).json(t)["apiKeys"].(map[string]any); ov["expired"] != float64(1) {
		t.Fatalf("overview keys: %v", ov)
	}
}

// The registry shows where a key was last used from: the source address
// the gateway saw (not a header the client sets) and its User-Agent.
func TestKeyLastUsedFrom(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	key, id := newKey(t, tid, "asset:create")
	call(t, "POST", "/api/integrations/assets/create", key, map[string]any{}, "User-Agent", "erp-sync/2.1", "X-Forwarded-For", "198.51.100.77")
	rows := call(t, "GET", "/api/integrations/api-keys", token(t, tid, "Owner"), nil).json(t)["apiKeys"].([]any)
	for _, row := range rows {
		if m := row.(map[string]any); m["id"] == id {
			if m["lastUsedAt"] == nil || m["lastUsedIp"] != "127.0.0.1" || m["lastUsedUserAgent"] != "erp-sync/2.1" {
				t.Fatalf("last used: %v from %v, %v", m["lastUsedAt"], m["lastUsedIp"], m["lastUsedUserAgent"])
			}
			return
		}
	}
	t.Fatal("the key is not in the registry")
}

// A key with an allowlist works from its networks alone, IPv4 and IPv6,
// the source being the address the gateway saw: from elsewhere it is 403
// IP_NOT_ALLOWED (after the key check, before the plan check: a Growth
// tenant's listed key is refused for its address first), logged like any
// call. A roll keeps the list; bad lists are refused.
func TestKeyAllowlist(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	for _, bad := range []any{[]string{"10.0.0.0/33"}, []string{"example.com"}, "10.0.0.0/8", []int{1}, make([]string, 33)} {
		expect(t, call(t, "POST", "/api/integrations/api-keys", owner, map[string]any{"name": "x", "permissions": []string{}, "allowedIps": bad}), http.StatusBadRequest, "VALIDATION_ERROR")
	}
	create := func(nets ...string) (string, string) {
		r := call(t, "POST", "/api/integrations/api-keys", owner, map[string]any{"name": "Plant", "permissions": []string{"asset:create"}, "allowedIps": nets})
		expect(t, r, http.StatusCreated, "")
		return asString(r.json(t)["key"]), asString(r.json(t)["id"])
	}
	elsewhere, elsewhereID := create("10.0.0.0/8", "2001:db8::/32")
	here, _ := create("127.0.0.1", "203.0.113.0/24")
	from := func(ip, key string) int {
		t.Helper()
		req := httptest.NewRequest("POST", "/api/integrations/assets/create", strings.NewReader(`{}`))
		req.RemoteAddr = net.JoinHostPort(ip, "40000")
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		stack.Gateway.ServeHTTP(w, req)
		return w.Code
	}
	for ip, want := range map[string]int{"10.9.8.7": 400, "2001:db8:1::5": 400, "127.0.0.1": 403, "2001:db9::5": 403, "::ffff:10.1.1.1": 400} {
		if got := from(ip, elsewhere); got != want {
			t.Errorf("from %s: %d, want %d", ip, got, want)
		}
	}
	expect(t, call(t, "POST", "/api/integrations/assets/create", elsewhere, map[string]any{}), http.StatusForbidden, "IP_NOT_ALLOWED")
	if !works(t, here) {
		t.Fatal("a key listed for 127.0.0.1 refused from there")
	}
	// Logged like any call, with the source address.
	var logged string
	defer func() {
		if t.Failed() {
			t.Log(logged)
		}
	}()
	waitFor(t, 10*time.Second, "the refused call in the log", func() bool {
		logged = string(call(t, "GET", "/api/integrations/activity?source=api&apiKeyId="+elsewhereID, owner, nil).Body)
		return strings.Contains(logged, `"status":"403","details":"2001:db9::5"`) && strings.Contains(logged, `"status":"400","details":"2001:db8:1::5"`)
	})
	// A roll keeps the list.
	r := call(t, "POST", "/api/integrations/api-keys/"+elsewhereID+"/roll", owner, map[string]any{"overlapHours": 0})
	expect(t, r, http.StatusCreated, "")
	if nets, _ := r.json(t)["allowedIps"].([]any); len(nets) != 2 || nets[0] != "10.0.0.0/8" {
		t.Fatalf("rolled key's allowlist: %v", r.json(t)["allowedIps"])
	}
	expect(t, call(t, "POST", "/api/integrations/assets/create", asString(r.json(t)["key"]), map[string]any{}), http.StatusForbidden, "IP_NOT_ALLOWED")
	// Before the plan check: a Growth tenant's listed key is refused for its address.
	growth := newTenant(t, tenant.Growth)
	gr := call(t, "POST", "/api/integrations/api-keys", token(t, growth, "Owner"), map[string]any{"name": "g", "permissions": []string{}, "allowedIps": []string{"10.0.0.0/8"}})
	expect(t, gr, http.StatusCreated, "")
	expect(t, call(t, "POST", "/api/integrations/assets/create", asString(gr.json(t)["key"]), map[string]any{}), http.StatusForbidden, "IP_NOT_ALLOWED")
}

// New keys carry a checksum: with legacy keys no longer accepted, a
// mistyped key is refused before any read (the function's DynamoDB calls
// are counted), a key issued before the checksum is refused too, and a good
// key works. The stack's own API (legacy keys accepted, the upgrade
// default) still takes the old key, and the registry marks it legacyFormat.
func TestKeyChecksum(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	good, _ := newKey(t, tid, "asset:create")
	// A key as one issued before the checksum: 64 random hex digits.
	svc := &apikey.Service{Store: &apikey.Store{DB: stack.DB, Table: stack.IntegrationsTable}, BcryptCost: 4}
	legacy := "ua_live_" + strings.Repeat("7a", 32)
	if apikey.Checksummed(legacy) {
		t.Fatal("the legacy stand-in carries a valid checksum")
	}
	if err := svc.Store.Create(ctx, legacyKey(t, tid, legacy)); err != nil {
		t.Fatal(err)
	}
	if !works(t, legacy) {
		t.Fatal("the stack (ACCEPT_LEGACY_KEYS default) refused a legacy key")
	}
	rows := call(t, "GET", "/api/integrations/api-keys", owner, nil).json(t)["apiKeys"].([]any)
	legacyShown := map[any]any{}
	for _, r := range rows {
		m := r.(map[string]any)
		legacyShown[m["prefix"]] = m["legacyFormat"]
	}
	if legacyShown[legacy[:12]] != true || legacyShown[good[:12]] != false {
		t.Fatalf("legacyFormat in the registry: %v", legacyShown)
	}

	cfg := stack.Config.IntegrationAPI
	cfg.AcceptLegacyKeys = false
	strict, db := integrationGateway(t, cfg)
	typo := good[:70] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", good[70])+1)%16]) + good[71:]
	for _, k := range []string{typo, legacy} {
		expect(t, callAt(t, strict.URL, "POST", "/api/integrations/assets/create", k, map[string]any{}), http.StatusUnauthorized, "UNAUTHORIZED")
	}
	if n := db.reads.Load(); n != 0 {
		t.Fatalf("refusing by checksum read DynamoDB %d times", n)
	}
	expect(t, callAt(t, strict.URL, "POST", "/api/integrations/assets/create", good, map[string]any{}), http.StatusBadRequest, "VALIDATION_ERROR")
	if db.reads.Load() == 0 {
		t.Fatal("the read counter counts nothing")
	}
}

// legacyKey is the record of a key issued before the checksum.
func legacyKey(t *testing.T, tenantID, plain string) apikey.Key {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(plain), 4)
	if err != nil {
		t.Fatal(err)
	}
	return apikey.Key{TenantID: tenantID, ID: "key_" + strings.ToLower(ulid.Make().String()), Name: "Legacy", Prefix: apikey.DisplayPrefix(plain),
		Lookup: apikey.LookupID(plain), Hash: string(hash), Permissions: []apikey.Permission{apikey.AssetCreate}, CreatedAt: isotime.Format(time.Now()), CreatedBy: "migration"}
}

// A tenant's maximum key lifetime bounds the keys issued from then on: a
// key created without expiresAt gets the bound, one asking for later is
// refused, a roll's new key lives at most that long; keys issued before
// keep their times; null lifts it.
func TestKeyLifetimePolicy(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	const policy = "/api/integrations/api-key-policy"
	_, before := newKey(t, tid)
	for _, bad := range []any{map[string]any{"maxLifetimeDays": 0}, map[string]any{"maxLifetimeDays": 3661}, map[string]any{"maxLifetimeDays": "30"},
		map[string]any{}, map[string]any{"maxLifetimeDays": 30, "x": 1}} {
		expect(t, call(t, "PUT", policy, owner, bad), http.StatusBadRequest, "VALIDATION_ERROR")
	}
	expect(t, call(t, "PUT", policy, token(t, tid, "Admin"), map[string]any{"maxLifetimeDays": 30}), http.StatusForbidden, "FORBIDDEN")
	r := call(t, "PUT", policy, owner, map[string]any{"maxLifetimeDays": 30})
	expect(t, r, http.StatusOK, "")
	if got := call(t, "GET", policy, owner, nil).json(t); got["maxLifetimeDays"] != float64(30) || got["updatedBy"] == nil {
		t.Fatalf("policy: %v", got)
	}
	if other := call(t, "GET", policy, token(t, newTenant(t, tenant.Enterprise), "Owner"), nil).json(t); other["maxLifetimeDays"] != nil {
		t.Fatalf("another tenant sees a policy: %v", other)
	}
	within := func(v any, d time.Duration) bool {
		at, err := time.Parse(time.RFC3339, asString(v))
		return err == nil && at.After(time.Now().Add(d-time.Minute)) && at.Before(time.Now().Add(d+time.Minute))
	}
	r = call(t, "POST", "/api/integrations/api-keys", owner, map[string]any{"name": "bounded", "permissions": []string{}})
	expect(t, r, http.StatusCreated, "")
	if !within(r.json(t)["expiresAt"], 30*24*time.Hour) {
		t.Fatalf("a key created under the policy expires at %v", r.json(t)["expiresAt"])
	}
	expect(t, call(t, "POST", "/api/integrations/api-keys", owner, map[string]any{"name": "long", "permissions": []string{},
		"expiresAt": isotime.Format(time.Now().Add(60 * 24 * time.Hour))}), http.StatusBadRequest, "VALIDATION_ERROR")
	r = call(t, "POST", "/api/integrations/api-keys/"+before+"/roll", owner, nil) // issued before the policy, without an end
	expect(t, r, http.StatusCreated, "")
	if !within(r.json(t)["expiresAt"], 30*24*time.Hour) {
		t.Fatalf("a roll's new key expires at %v", r.json(t)["expiresAt"])
	}
	expect(t, call(t, "PUT", policy, owner, map[string]any{"maxLifetimeDays": nil}), http.StatusOK, "")
	r = call(t, "POST", "/api/integrations/api-keys", owner, map[string]any{"name": "free", "permissions": []string{}})
	expect(t, r, http.StatusCreated, "")
	if r.json(t)["expiresAt"] != nil {
		t.Fatalf("with no policy a key expires at %v", r.json(t)["expiresAt"])
	}
}

// The Activity Log says when a key is about to expire (within 3 days) and
// when it has, once each, written by ExpiryAlertsFunction's pass with its
// own IAM; a revoked key gets none.
func TestKeyExpiryNotices(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	soon := func(name string) string {
		r := call(t, "POST", "/api/integrations/api-keys", owner, map[string]any{"name": name, "permissions": []string{},
			"expiresAt": isotime.Format(time.Now().Add(48 * time.Hour))})
		expect(t, r, http.StatusCreated, "")
		return asString(r.json(t)["id"])
	}
	id, revoked := soon("Soon"), soon("Revoked")
	expect(t, call(t, "POST", "/api/integrations/api-keys/"+revoked+"/revoke", owner, nil), http.StatusOK, "")
	p := newPass(t, isotime.Format(time.Now()))
	p.Backfill = nil
	notices := func() (expiring, expired int) {
		t.Helper()
		body := string(call(t, "GET", "/api/integrations/activity?source=system", owner, nil).Body)
		return strings.Count(body, `"event":"apikey.expiring"`), strings.Count(body, `"event":"apikey.expired"`)
	}
	for range 2 {
		if err := p.Handle(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	if e, x := notices(); e != 1 || x != 0 {
		t.Fatalf("two days before: %d expiring, %d expired notices; want 1 and 0", e, x)
	}
	expireAt(t, tid, id, time.Now().Add(-time.Minute)) // its time passes
	for range 2 {
		if err := p.Handle(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	if e, x := notices(); e != 1 || x != 1 {
		t.Fatalf("after it expired: %d expiring, %d expired notices; want 1 each", e, x)
	}
}
