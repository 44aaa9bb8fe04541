package config

import (
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// required is what template.yaml gives every function that reads it.
var required = map[string]string{
	"ASSETS_TABLE": "a", "INTEGRATIONS_TABLE": "i", "DELIVERY_QUEUE_URL": "https://sqs.example/q", "APP_KEY_SECRET_ARN": "arn:secret",
	"ENTRA_CLIENT_SECRET_ARN": "arn:entra", "ENTRA_SYNC_QUEUE_URL": "https://sqs.example/entra",
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

// Every function refuses to start without what it needs, and says which
// variables are wrong, all of them at once.
func TestMissingRequiredFailsAtStart(t *testing.T) {
	for fn, fresh := range Functions {
		for _, v := range Uses(fresh()) {
			if !v.Required {
				continue
			}
			m := map[string]string{}
			for k, val := range required {
				if k != v.Name {
					m[k] = val
				}
			}
			err := Parse(Map(m), fresh())
			if err == nil || !strings.Contains(err.Error(), v.Name+" is required") {
				t.Errorf("%s without %s: %v", fn, v.Name, err)
			}
		}
	}
	err := Parse(Map(map[string]string{"DELIVERY_SHARDS": "0"}), &Dispatcher{})
	for _, name := range []string{"INTEGRATIONS_TABLE", "DELIVERY_QUEUE_URL", "APP_KEY_SECRET_ARN", "DELIVERY_SHARDS"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("the error does not name %s: %v", name, err)
		}
	}
}

func TestMalformedValues(t *testing.T) {
	for _, bad := range []map[string]string{
		{"API_LOG_SHARDS": "0"}, {"API_LOG_SHARDS": "257"}, {"BCRYPT_COST": "ten"}, {"KEY_CACHE_TTL": "forever"},
		{"KEY_CACHE_TTL": "-1s"}, {"RETRY_SCHEDULE": "5s,12h"}, {"RETRY_SCHEDULE": "5s,,5m"}, {"RETRY_SCHEDULE": "0s"},
		{"DELIVERY_TIMEOUT": "2m"}, {"DELIVERY_TIMEOUT": "0s"}, {"DELIVERY_TIMEOUT": "46s"}, {"WEBHOOK_ALLOW_PRIVATE": "yes"}, {"LOG_LEVEL": "LOUD"}, {"DISPATCH_CONCURRENCY": "1e2"},
	} {
		var failed bool
		for _, fresh := range Functions {
			c := fresh()
			if err := Parse(with(bad), c); err != nil {
				failed = true
			}
		}
		if !failed {
			t.Errorf("%v accepted", bad)
		}
	}
	var d Dispatcher
	if err := Parse(with(map[string]string{"RETRY_SCHEDULE": " 1s , 2s ", "LOG_LEVEL": "debug", "WEBHOOK_ALLOW_PRIVATE": "true"}), &d); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.RetrySchedule, []time.Duration{time.Second, 2 * time.Second}) || d.LogLevel != slog.LevelDebug || !d.WebhookAllowPrivate {
		t.Fatalf("got %+v", d)
	}
}

// A mistake in the table (a default its own kind refuses, a variable read as
// another kind, one missing from Vars) shows here rather than at a cold start.
func TestEveryVarParsesItsDefault(t *testing.T) {
	for fn, fresh := range Functions {
		c := fresh()
		if err := Parse(with(nil), c); err != nil {
			t.Errorf("%s: %v", fn, err)
		}
		for _, v := range Uses(c) {
			if !slices.Contains(Vars, v) {
				t.Errorf("%s reads %s, which Vars does not list", fn, v.Name)
			}
			if v.Required && v.Default != "" {
				t.Errorf("%s is required and has a default", v.Name)
			}
		}
	}
	for _, v := range Vars {
		if v.Required && v.Shell {
			t.Errorf("%s: resource names come from the stack, not the shell", v.Name)
		}
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

func TestReadmeSettingsTable(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- settings table: made by config.Table -->\n", "<!-- end of settings table -->"
	_, rest, ok := strings.Cut(string(raw), begin)
	got, _, ok2 := strings.Cut(rest, end)
	if !ok || !ok2 {
		t.Fatal("README.md has no settings table markers")
	}
	if want := Table(); got != want {
		if os.Getenv("UPDATE_README") == "1" {
			if err := os.WriteFile("../../README.md", []byte(strings.Replace(string(raw), begin+got, begin+want, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md's settings table is stale (UPDATE_README=1 go test ./shared/config rewrites it); it should be:\n%s", want)
	}
	// No variable is listed that no function reads.
	read := map[*Var]bool{}
	for _, fresh := range Functions {
		for _, v := range Uses(fresh()) {
			read[v] = true
		}
	}
	for _, v := range Vars {
		if !read[v] {
			t.Errorf("no function reads %s", v.Name)
		}
	}
}
