package e2e

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/apikey"
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

func TestLastUsedAtWrittenAtMostOncePerInterval(t *testing.T) {
	tid := newTenant(t, tenant.Enterprise)
	key, id := newKey(t, tid, allPermissions...)
	store := &apikey.Store{DB: stack.DB, Table: stack.IntegrationsTable}
	createAsset(t, key, nil)
	k1, _, err := store.Get(context.Background(), tid, id)
	if err != nil || k1.LastUsedAt == "" {
		t.Fatalf("lastUsedAt not written on first use: %+v %v", k1, err)
	}
	time.Sleep(5 * time.Millisecond)
	createAsset(t, key, nil)
	k2, _, _ := store.Get(context.Background(), tid, id)
	if k2.LastUsedAt != k1.LastUsedAt {
		t.Fatalf("lastUsedAt rewritten within the interval: %s -> %s", k1.LastUsedAt, k2.LastUsedAt)
	}
}
