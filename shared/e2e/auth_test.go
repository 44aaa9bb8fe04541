package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/tenant"
)

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
