package config

import (
	"log/slog"
	"slices"
	"testing"
	"time"
)

// required is what template.yaml gives every function that reads it.
var required = map[string]string{
	"ASSETS_TABLE": "a", "INTEGRATIONS_TABLE": "i", "DELIVERY_QUEUE_URL": "https://sqs.example/q", "APP_KEY_SECRET_ARN": "arn:secret",
	"DELIVERY_DLQ_URL": "https://sqs.example/dlq", "STREAM_DLQ_URL": "https://sqs.example/stream-dlq",
	"ENTRA_CLIENT_SECRET_ARN": "arn:entra", "ENTRA_SYNC_QUEUE_URL": "https://sqs.example/entra", "STACK_NAME": "uniasset-test",
}

func with(extra map[string]string) Lookup {
	m := map[string]string{}
	for k, v := range required {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return Map(m)
}

func TestDefaults(t *testing.T) {
	var c Dispatcher
	if err := Parse(with(nil), &c); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	if c.DeliveryShards != 8 || c.DeliveryTimeout != 10*time.Second || !slices.Equal(c.RetrySchedule, want) ||
		c.RetryHoldMax != time.Minute || c.DispatchConcurrency != 10 || c.WebhookAllowPrivate || c.LogLevel != slog.LevelInfo {
		t.Fatalf("defaults: %+v", c)
	}
	var a IntegrationAPI
	if err := Parse(with(nil), &a); err != nil {
		t.Fatal(err)
	}
	var adm AdminAPI
	var rt StreamRouter
	if err := Parse(with(nil), &adm); err != nil || adm.BcryptCost != 10 || adm.WebhookAllowPrivate {
		t.Fatalf("admin defaults: %+v %v", adm, err)
	}
	if err := Parse(with(map[string]string{"ROUTER_CONCURRENCY": "  "}), &rt); err != nil || rt.RouterConcurrency != 16 {
		t.Fatalf("router defaults (a blank value is unset): %+v %v", rt, err)
	}
	if a.APILogShards != 8 || a.LastUsedInterval != time.Minute || a.IdempotencyTTL != 24*time.Hour || a.KeyCacheSize != 10000 || a.KeyCacheTTL != 15*time.Minute {
		t.Fatalf("defaults: %+v", a)
	}
}

func TestPublicAPIURL(t *testing.T) {
	parse := func(v string) (string, error) {
		var c AdminAPI
		err := Parse(with(map[string]string{"PUBLIC_API_URL": v}), &c)
		return c.PublicAPIURL, err
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
		got, err := parse(v)
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v", v, got, err)
		}
	}
	for _, bad := range []string{
		"http://api.example.com", "http://127.0.0.1.evil.example", "ftp://x", "api.example.com", "https://u:p@x",
		"https://x/?q=1", "https://x/#f", "https://x$(id)", "https://x'y", "https://x/a b", "https://x/'", "https://", "javascript:alert(1)",
	} {
		if _, err := parse(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
