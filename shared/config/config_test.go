package config

import (
	"testing"
	"time"
)

func TestParseDefaultsAndErrors(t *testing.T) {
	c, err := FromMap(map[string]string{"ASSETS_TABLE": "a", "INTEGRATIONS_TABLE": "i"})
	if err != nil {
		t.Fatal(err)
	}
	if c.APILogShards != 8 || c.BcryptCost != 10 || c.LastUsedInterval != time.Minute || c.IdempotencyTTL != 24*time.Hour {
		t.Fatalf("defaults: %+v", c)
	}
	for _, bad := range []map[string]string{
		{"INTEGRATIONS_TABLE": "i"},
		{"ASSETS_TABLE": "a", "INTEGRATIONS_TABLE": "i", "API_LOG_SHARDS": "0"},
		{"ASSETS_TABLE": "a", "INTEGRATIONS_TABLE": "i", "BCRYPT_COST": "ten"},
		{"ASSETS_TABLE": "a", "INTEGRATIONS_TABLE": "i", "KEY_CACHE_TTL": "forever"},
	} {
		if _, err := FromMap(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestPublicAPIURL(t *testing.T) {
	with := func(v string) (Config, error) {
		return FromMap(map[string]string{"ASSETS_TABLE": "a", "INTEGRATIONS_TABLE": "i", "PUBLIC_API_URL": v})
	}
	for v, want := range map[string]string{
		"":                                "",
		"https://api.uniasset.example":    "https://api.uniasset.example",
		"https://api.uniasset.example/":   "https://api.uniasset.example",
		"https://api.example:8443/v1":     "https://api.example:8443/v1",
		"http://127.0.0.1:3000":           "http://127.0.0.1:3000",
		"http://localhost:3000":           "http://localhost:3000",
		"https://[2001:db8::1]:443/stage": "https://[2001:db8::1]:443/stage",
	} {
		c, err := with(v)
		if err != nil || c.PublicAPIURL != want {
			t.Errorf("%q: got %q, %v", v, c.PublicAPIURL, err)
		}
	}
	for _, bad := range []string{
		"http://api.example.com", "http://127.0.0.1.evil.example", "ftp://x", "api.example.com", "https://u:p@x",
		"https://x/?q=1", "https://x/#f", "https://x$(id)", "https://x'y", "https://x/a b", "https://x/'", "https://", "javascript:alert(1)",
	} {
		if _, err := with(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
