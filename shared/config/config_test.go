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
