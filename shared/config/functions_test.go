package config_test

// The checks that need every function's configuration: the list is the
// function registry's (lambdas), which imports this package, so they run
// from outside it.

import (
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/config"
	"github.com/uniasset/integrations/shared/lambdas"
)

// Every function refuses to start without what it needs, and says which
// variables are wrong, all of them at once.
func TestMissingRequiredFailsAtStart(t *testing.T) {
	for fn, fresh := range lambdas.Configs() {
		for _, v := range config.Uses(fresh()) {
			if !v.Required {
				continue
			}
			m := map[string]string{}
			for k, val := range config.Required {
				if k != v.Name {
					m[k] = val
				}
			}
			err := config.Parse(config.Map(m), fresh())
			if err == nil || !strings.Contains(err.Error(), v.Name+" is required") {
				t.Errorf("%s without %s: %v", fn, v.Name, err)
			}
		}
	}
	err := config.Parse(config.Map(map[string]string{"DELIVERY_SHARDS": "0"}), &config.Dispatcher{})
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
		for _, fresh := range lambdas.Configs() {
			c := fresh()
			if err := config.Parse(config.With(bad), c); err != nil {
				failed = true
			}
		}
		if !failed {
			t.Errorf("%v accepted", bad)
		}
	}
	var d config.Dispatcher
	if err := config.Parse(config.With(map[string]string{"RETRY_SCHEDULE": " 1s , 2s ", "LOG_LEVEL": "debug", "WEBHOOK_ALLOW_PRIVATE": "true"}), &d); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.RetrySchedule, []time.Duration{time.Second, 2 * time.Second}) || d.LogLevel != slog.LevelDebug || !d.WebhookAllowPrivate {
		t.Fatalf("got %+v", d)
	}
}

// A mistake in the table (a default its own kind refuses, a variable read as
// another kind, one missing from Vars) shows here rather than at a cold start.
func TestEveryVarParsesItsDefault(t *testing.T) {
	for fn, fresh := range lambdas.Configs() {
		c := fresh()
		if err := config.Parse(config.With(nil), c); err != nil {
			t.Errorf("%s: %v", fn, err)
		}
		for _, v := range config.Uses(c) {
			if !slices.Contains(config.Vars, v) {
				t.Errorf("%s reads %s, which Vars does not list", fn, v.Name)
			}
			if v.Required && v.Default != "" {
				t.Errorf("%s is required and has a default", v.Name)
			}
		}
	}
	for _, v := range config.Vars {
		if v.Required && v.Shell {
			t.Errorf("%s: resource names come from the stack, not the shell", v.Name)
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
	if want := config.Table(lambdas.Configs()); got != want {
		if os.Getenv("UPDATE_README") == "1" {
			if err := os.WriteFile("../../README.md", []byte(strings.Replace(string(raw), begin+got, begin+want, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md's settings table is stale (UPDATE_README=1 go test ./shared/config rewrites it); it should be:\n%s", want)
	}
	// No variable is listed that no function reads.
	read := map[*config.Var]bool{}
	for _, fresh := range lambdas.Configs() {
		for _, v := range config.Uses(fresh()) {
			read[v] = true
		}
	}
	for _, v := range config.Vars {
		if !read[v] {
			t.Errorf("no function reads %s", v.Name)
		}
	}
}
