package httpapi

import (
	"encoding/base64"
	"net/http/httptest"
	"testing"
)

func TestStringClaims(t *testing.T) {
	seg := func(json string) string { return base64.RawURLEncoding.EncodeToString([]byte(json)) }
	header := seg(`{"alg":"HS256"}`)
	for _, tc := range []struct {
		name, auth string
		want       bool
	}{
		{"strings", "Bearer " + header + "." + seg(`{"tenant_id":"t1","sub":"u"}`) + ".sig", true},
		{"escaped string", "Bearer " + header + "." + seg(`{"tenant_id":"t\u0031","sub":"u"}`) + ".sig", true},
		{"number", "Bearer " + header + "." + seg(`{"tenant_id":4242,"sub":"u"}`) + ".sig", false},
		{"null", "Bearer " + header + "." + seg(`{"tenant_id":null,"sub":"u"}`) + ".sig", false},
		{"list", "Bearer " + header + "." + seg(`{"tenant_id":["t1"],"sub":"u"}`) + ".sig", false},
		{"missing", "Bearer " + header + "." + seg(`{"sub":"u"}`) + ".sig", false},
		{"padded base64", "Bearer " + header + "." + base64.URLEncoding.EncodeToString([]byte(`{"tenant_id":"t1","sub":"u"}`)) + ".sig", false},
		{"two segments", "Bearer " + header + "." + seg(`{"tenant_id":"t1","sub":"u"}`), false},
		{"not JSON", "Bearer " + header + "." + seg(`tenant_id=t1`) + ".sig", false},
		{"lower-case scheme", "bearer " + header + "." + seg(`{"tenant_id":"t1","sub":"u"}`) + ".sig", true},
		{"other scheme", "Basic " + header + "." + seg(`{"tenant_id":"t1","sub":"u"}`) + ".sig", false},
		{"no bearer", header + "." + seg(`{"tenant_id":"t1","sub":"u"}`) + ".sig", false},
		{"no header", "", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		if got := StringClaims(r, "tenant_id", "sub"); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
