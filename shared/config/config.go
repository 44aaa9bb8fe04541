// Package config is the one place functions read their settings. Lambdas read
// the environment template.yaml gives them; the local stack resolves the same
// template variables and passes them through the same Parse.
package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is every setting any function reads. Each field names its variable.
type Config struct {
	AssetsTable       string // ASSETS_TABLE
	IntegrationsTable string // INTEGRATIONS_TABLE
	APILogShards      int    // API_LOG_SHARDS: write shards of the per-tenant API call log
	BcryptCost        int    // BCRYPT_COST: cost of new API key hashes
	KeyCacheSize      int    // KEY_CACHE_SIZE: verified key strings remembered per process
	KeyCacheTTL       time.Duration
	LastUsedInterval  time.Duration // LAST_USED_INTERVAL: lastUsedAt is written at most this often per key
	IdempotencyTTL    time.Duration // IDEMPOTENCY_TTL
	LogLevel          string        // LOG_LEVEL

	DeliveryQueueURL    string          // DELIVERY_QUEUE_URL
	AppKeySecretID      string          // APP_KEY_SECRET_ARN: Secrets Manager id of the sealing key
	DeliveryShards      int             // DELIVERY_SHARDS: write shards of the per-tenant delivery log
	DeliveryTimeout     time.Duration   // DELIVERY_TIMEOUT: per attempt (the spec: 10 s)
	RetrySchedule       []time.Duration // RETRY_SCHEDULE: waits before each retry, e.g. "5s,5m,30m"
	DispatchConcurrency int             // DISPATCH_CONCURRENCY: parallel sends per SQS batch
	RouterConcurrency   int             // ROUTER_CONCURRENCY: DynamoDB calls a stream batch makes at once
	// RetryHoldMax (RETRY_HOLD_MAX): a retry due sooner than this waits as an
	// in-flight message (hidden by its visibility); one due later leaves the
	// in-flight set, re-sent with a delay (at most SQS's 15 minutes) and
	// re-delayed until due, so an outage cannot fill the queue's in-flight quota.
	RetryHoldMax time.Duration
	// WebhookAllowPrivate (WEBHOOK_ALLOW_PRIVATE) lets webhooks use http:// and
	// private addresses. The local stack sets it; template.yaml never does.
	WebhookAllowPrivate bool
	// PublicAPIURL (PUBLIC_API_URL) is the base URL clients reach the APIs at,
	// shown in the Developer Guide: a custom domain, or the local stack's own
	// address. Empty means the API's own execute-api URL, built from the API id
	// API Gateway passes (never from a request header).
	PublicAPIURL string
	Region       string // AWS_REGION, set by Lambda
}

// DefaultRetrySchedule: 8 attempts over about 28 hours, each wait within SQS's 12 h visibility limit.
var DefaultRetrySchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Lookup is os.LookupEnv's shape, so tests and the local stack can supply a map.
type Lookup func(string) (string, bool)

// FromEnv reads the process environment.
func FromEnv() (Config, error) { return Parse(os.LookupEnv) }

// FromMap reads a resolved variable map (the local stack's view of template.yaml).
func FromMap(m map[string]string) (Config, error) {
	return Parse(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
}

// Parse applies defaults and validates; a missing table name is an error because
// a function without its table cannot do anything useful.
func Parse(lookup Lookup) (Config, error) {
	p := parser{lookup: lookup}
	c := Config{
		AssetsTable:       p.str("ASSETS_TABLE", ""),
		IntegrationsTable: p.str("INTEGRATIONS_TABLE", ""),
		APILogShards:      p.int("API_LOG_SHARDS", 8, 1, 256),
		BcryptCost:        p.int("BCRYPT_COST", 10, 4, 14),
		KeyCacheSize:      p.int("KEY_CACHE_SIZE", 10000, 0, 1_000_000),
		KeyCacheTTL:       p.dur("KEY_CACHE_TTL", 15*time.Minute),
		LastUsedInterval:  p.dur("LAST_USED_INTERVAL", time.Minute),
		IdempotencyTTL:    p.dur("IDEMPOTENCY_TTL", 24*time.Hour),
		LogLevel:          p.str("LOG_LEVEL", "INFO"),

		DeliveryQueueURL:    p.str("DELIVERY_QUEUE_URL", ""),
		AppKeySecretID:      p.str("APP_KEY_SECRET_ARN", ""),
		DeliveryShards:      p.int("DELIVERY_SHARDS", 8, 1, 256),
		DeliveryTimeout:     p.dur("DELIVERY_TIMEOUT", 10*time.Second),
		RetrySchedule:       p.durs("RETRY_SCHEDULE", DefaultRetrySchedule, 11*time.Hour),
		DispatchConcurrency: p.int("DISPATCH_CONCURRENCY", 10, 1, 100),
		RouterConcurrency:   p.int("ROUTER_CONCURRENCY", 16, 1, 100),
		RetryHoldMax:        p.dur("RETRY_HOLD_MAX", time.Minute),
		WebhookAllowPrivate: p.str("WEBHOOK_ALLOW_PRIVATE", "false") == "true",
		PublicAPIURL:        p.baseURL("PUBLIC_API_URL"),
		Region:              p.str("AWS_REGION", ""),
	}
	if c.AssetsTable == "" {
		p.fail("ASSETS_TABLE is required")
	}
	if c.IntegrationsTable == "" {
		p.fail("INTEGRATIONS_TABLE is required")
	}
	return c, p.err
}

type parser struct {
	lookup Lookup
	err    error
}

func (p *parser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("config: "+format, args...)
	}
}

func (p *parser) str(key, def string) string {
	if v, ok := p.lookup(key); ok && v != "" {
		return v
	}
	return def
}

// baseURL reads an optional base URL: https://host[:port][/path], or http://
// for a loopback host (the local stack); no credentials, query or fragment.
func (p *parser) baseURL(key string) string {
	v := p.str(key, "")
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	ok := err == nil && u.User == nil && u.RawQuery == "" && u.Fragment == "" && !u.ForceQuery &&
		baseHost.MatchString(u.Host) && (u.Path == "" || basePath.MatchString(u.Path))
	if ok {
		switch u.Scheme {
		case "https":
		case "http":
			ok = u.Hostname() == "localhost" || net.ParseIP(u.Hostname()).IsLoopback()
		default:
			ok = false
		}
	}
	if !ok {
		p.fail("%s must be https://host[:port][/path] (http:// only for a loopback host), got %q", key, v)
		return ""
	}
	return strings.TrimSuffix(v, "/")
}

var (
	baseHost = regexp.MustCompile(`^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$`)
	basePath = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)*/?$`)
)

func (p *parser) int(key string, def, lo, hi int) int {
	v, ok := p.lookup(key)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail("%s must be an integer in [%d, %d], got %q", key, lo, hi, v)
		return def
	}
	return n
}

func (p *parser) durs(key string, def []time.Duration, most time.Duration) []time.Duration {
	v, ok := p.lookup(key)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	var out []time.Duration
	for _, part := range strings.Split(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 || d > most {
			p.fail("%s: %q must be a positive duration up to %s", key, part, most)
			return def
		}
		out = append(out, d)
	}
	return out
}

func (p *parser) dur(key string, def time.Duration) time.Duration {
	v, ok := p.lookup(key)
	if !ok || v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		p.fail("%s must be a duration like 90s, got %q", key, v)
		return def
	}
	return d
}
