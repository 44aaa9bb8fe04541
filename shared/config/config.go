// Package config is the one place functions read their settings. Every
// environment variable is a Var in Vars: that table drives parsing, the local
// stack's shell overrides and the README's settings table (a test compares).
// Each function has a config type holding only what it uses; Parse fills it
// at cold start and names every variable that is missing or malformed, so a
// function without its queue or sealing key never starts instead of failing
// on its first event.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/uniasset/integrations/shared/retention"
)

// Kind says how a variable's text is read.
type Kind int

const (
	Text      Kind = iota // any string
	Int                   // a decimal integer in [Min, Max]
	Duration              // a Go duration such as 90s, in [Min, Max] (Max 0: no bound)
	Durations             // comma-separated positive durations, each at most Max
	Bool                  // true or false
	Level                 // a log level: DEBUG, INFO, WARN or ERROR
	BaseURL               // https://host[:port][/path], http:// only for a loopback host
)

// Var is one environment variable.
type Var struct {
	Name string
	// Default is the value an unset or empty variable takes, written as it
	// would be set. A Required variable has none: template.yaml gives it.
	Default  string
	Required bool
	// Shell: `make run` takes the variable from the shell when set there.
	// Resource names and ARNs come from the stack the local stack creates.
	Shell    bool
	Kind     Kind
	Min, Max int64 // Int bounds; Duration bounds and Durations' upper bound, in nanoseconds
	Doc      string
}

// The variables, in the order README lists them.
var (
	AssetsTable       = &Var{Name: "ASSETS_TABLE", Required: true, Doc: "the assets table (shared with the main app)"}
	IntegrationsTable = &Var{Name: "INTEGRATIONS_TABLE", Required: true, Doc: "keys, webhooks, deliveries, logs, tenant profiles"}
	DeliveryQueueURL  = &Var{Name: "DELIVERY_QUEUE_URL", Required: true, Doc: "the delivery queue"}
	DeliveryDLQURL    = &Var{Name: "DELIVERY_DLQ_URL", Required: true, Doc: "where DeliveryQueue parks messages the dispatcher failed to process; the dispatcher's sweep empties it"}
	StreamDLQURL      = &Var{Name: "STREAM_DLQ_URL", Required: true, Doc: "where Lambda parks the stream batches the router failed; the router's sweep routes them again"}
	AppKeySecretARN   = &Var{Name: "APP_KEY_SECRET_ARN", Required: true, Doc: "Secrets Manager id of the key that seals webhook secrets"}
	APILogShards      = &Var{Name: "API_LOG_SHARDS", Default: "8", Shell: true, Kind: Int, Min: 1, Max: 256, Doc: "write shards of the API call log"}
	DeliveryShards    = &Var{Name: "DELIVERY_SHARDS", Default: "8", Shell: true, Kind: Int, Min: 1, Max: 256, Doc: "write shards of the delivery records"}
	BcryptCost        = &Var{Name: "BCRYPT_COST", Default: "10", Shell: true, Kind: Int, Min: 4, Max: 14, Doc: "cost of new key hashes"}
	KeyCacheSize      = &Var{Name: "KEY_CACHE_SIZE", Default: "10000", Shell: true, Kind: Int, Min: 0, Max: 1_000_000, Doc: "verified key strings remembered per instance"}
	KeyCacheTTL       = &Var{Name: "KEY_CACHE_TTL", Default: "15m", Shell: true, Kind: Duration, Doc: "how long a verified key string is remembered"}
	LastUsedInterval  = &Var{Name: "LAST_USED_INTERVAL", Default: "1m", Shell: true, Kind: Duration, Doc: "how often `lastUsedAt` may be written per key"}
	IdempotencyTTL    = &Var{Name: "IDEMPOTENCY_TTL", Default: "24h", Shell: true, Kind: Duration, Doc: "how long responses are kept for replay"}
	// Well under the HTTP API's shared route throttle (1,000 rps, burst
	// 2,000), so no one tenant can take it.
	APIRateLimit = &Var{Name: "API_RATE_LIMIT", Default: "100", Shell: true, Kind: Int, Min: 1, Max: 1000, Doc: "integration API requests a second per tenant (a tenant profile's `apiRateLimit` overrides)"}
	APIRateBurst = &Var{Name: "API_RATE_BURST", Default: "200", Shell: true, Kind: Int, Min: 1, Max: 2000, Doc: "integration API requests per tenant at once (a tenant profile's `apiRateBurst` overrides)"}
	// Lookups of key strings this instance has not verified: what a flood of
	// random keys costs in DynamoDB reads, per source address.
	SecretScanningKeys  = &Var{Name: "SECRET_SCANNING_KEYS", Shell: true, Doc: "the public keys leak reports are signed with (`SecretScanningPublicKeys` parameter): id=base64 of the DER public key, comma-separated, as GitHub's secret-scanning partner program publishes them; empty: the leak report route answers 404"}
	AcceptLegacyKeys    = &Var{Name: "ACCEPT_LEGACY_KEYS", Default: "true", Shell: true, Kind: Bool, Doc: "keys issued before keys carried a checksum authenticate; set false once the registry shows no `legacyFormat` key, and a mistyped key is refused before any read"}
	KeyLookupsPerSource = &Var{Name: "KEY_LOOKUPS_PER_SOURCE", Default: "60", Shell: true, Kind: Int, Min: 1, Max: 10_000, Doc: "lookups of unverified key strings per source address (IPv6: /64) per instance, a minute and at once"}
	TestEventsPerMinute = &Var{Name: "TEST_EVENTS_PER_MINUTE", Default: "5", Shell: true, Kind: Int, Min: 1, Max: 60, Doc: "test events and verification challenges per webhook a minute, and at once"}
	ResendsPerMinute    = &Var{Name: "RESENDS_PER_MINUTE", Default: "10", Shell: true, Kind: Int, Min: 1, Max: 600, Doc: "deliveries resent from the Activity Log per webhook a minute, and at once"}
	// Bounded well inside the dispatcher's 60 s Lambda timeout, which must
	// leave time to record the attempt.
	DeliveryTimeout = &Var{Name: "DELIVERY_TIMEOUT", Default: "10s", Shell: true, Kind: Duration, Min: int64(time.Second), Max: int64(45 * time.Second), Doc: "per attempt (1s to 45s)"}
	// Each wait must fit SQS's 12 h visibility limit.
	RetrySchedule       = &Var{Name: "RETRY_SCHEDULE", Default: "5s,5m,30m,2h,5h,10h,10h", Shell: true, Kind: Durations, Max: int64(11 * time.Hour), Doc: "waits before each retry (each ≤ 11h: SQS visibility caps at 12h)"}
	RetryHoldMax        = &Var{Name: "RETRY_HOLD_MAX", Default: "1m", Shell: true, Kind: Duration, Max: int64(12 * time.Hour), Doc: "longest retry wait held in flight; later ones are re-sent with a delay"}
	DispatchConcurrency = &Var{Name: "DISPATCH_CONCURRENCY", Default: "10", Shell: true, Kind: Int, Min: 1, Max: 100, Doc: "parallel sends per SQS batch"}
	// A receiver's share of the dispatcher (shared/delivery.Gate).
	SendRate          = &Var{Name: "SEND_RATE", Default: "50", Shell: true, Kind: Int, Min: 1, Max: 1000, Doc: "deliveries a second to one webhook unless it sets `rateLimit`"}
	SlowAfter         = &Var{Name: "SLOW_AFTER", Default: "2s", Shell: true, Kind: Duration, Min: int64(100 * time.Millisecond), Max: int64(45 * time.Second), Doc: "an attempt unanswered this long marks its webhook slow"}
	SlowEndpointSlots = &Var{Name: "SLOW_ENDPOINT_SLOTS", Default: "5", Shell: true, Kind: Int, Min: 1, Max: 100, Doc: "attempts a slow webhook may start per delivery timeout"}
	SlowTenantSlots   = &Var{Name: "SLOW_TENANT_SLOTS", Default: "50", Shell: true, Kind: Int, Min: 1, Max: 1000, Doc: "attempts a tenant's slow webhooks may start per delivery timeout"}
	// A webhook that keeps failing is disabled (webhook.DisableRule).
	AutoDisableAfter   = &Var{Name: "AUTO_DISABLE_AFTER", Default: "120h", Shell: true, Kind: Duration, Doc: "a webhook whose every attempt has failed this long (and on 3 occasions `AUTO_DISABLE_SPACING` apart) is disabled; 0: never"}
	AutoDisableSpacing = &Var{Name: "AUTO_DISABLE_SPACING", Default: "12h", Shell: true, Kind: Duration, Min: int64(time.Minute), Doc: "how far apart failures must be to count as separate occasions (a burst counts once)"}
	WebhookCacheTTL    = &Var{Name: "WEBHOOK_CACHE_TTL", Default: "5s", Shell: true, Kind: Duration, Max: int64(time.Minute), Doc: "how long a dispatcher instance reuses a webhook it read (edits, pauses and deletes take effect within it)"}
	RouterConcurrency  = &Var{Name: "ROUTER_CONCURRENCY", Default: "16", Shell: true, Kind: Int, Min: 1, Max: 100, Doc: "work a stream batch runs at once in each of its steps: tenants' webhook lists, items armed (and, within each, the delivery records of an alert), the events' delivery records"}
	// The template never sets it (a test checks); the local stack does, for
	// receivers on loopback.
	WebhookAllowPrivate = &Var{Name: "WEBHOOK_ALLOW_PRIVATE", Default: "false", Shell: true, Kind: Bool, Doc: "local stack only: allow http:// and private addresses"}
	// Empty means the API's own execute-api URL, built from the API id API
	// Gateway passes (never from a request header).
	PublicAPIURL = &Var{Name: "PUBLIC_API_URL", Shell: true, Kind: BaseURL, Doc: "base URL the Developer Guide shows (the `PublicApiUrl` parameter); empty: the execute-api URL"}
	// The Entra app: its client id is the EntraClientId parameter; its secret
	// lives in Secrets Manager; Microsoft's endpoints are configuration (a
	// national cloud, or the local stack's fake Microsoft).
	EntraClientID        = &Var{Name: "ENTRA_CLIENT_ID", Doc: "the multi-tenant Entra app's client id (`EntraClientId` parameter); empty: connecting is unavailable"}
	EntraClientSecretARN = &Var{Name: "ENTRA_CLIENT_SECRET_ARN", Required: true, Doc: "Secrets Manager id of the Entra app's client secret"}
	EntraSyncQueueURL    = &Var{Name: "ENTRA_SYNC_QUEUE_URL", Required: true, Doc: "the queue of per-tenant sync jobs"}
	EntraLoginURL        = &Var{Name: "ENTRA_LOGIN_URL", Default: "https://login.microsoftonline.com", Shell: true, Kind: BaseURL, Doc: "Microsoft's login root (sign-in, token and admin-consent endpoints)"}
	GraphURL             = &Var{Name: "GRAPH_URL", Default: "https://graph.microsoft.com/v1.0", Shell: true, Kind: BaseURL, Doc: "Microsoft Graph's v1.0 root"}
	EntraReturnURL       = &Var{Name: "ENTRA_RETURN_URL", Shell: true, Kind: BaseURL, Doc: "the UI page the consent callback redirects to with `?entra=<outcome>` (`EntraReturnUrl` parameter); empty: the callback answers JSON"}
	Region               = &Var{Name: "AWS_REGION", Doc: "set by Lambda; names the execute-api host"}
	RecordRetentionDays  = &Var{Name: "RECORD_RETENTION_DAYS", Default: "0", Shell: true, Kind: Int, Min: 0, Max: 3650, Doc: "API call rows, delivery records and System entries are deleted this many days after they are written (DynamoDB TTL; the `RecordRetentionDays` parameter); 0 keeps them"}
	StackName            = &Var{Name: "STACK_NAME", Required: true, Doc: "the stack's name (template: `AWS::StackName`): the dimension of the functions' metrics and their alarms, so two stacks in one account keep theirs apart"}
	LogLevel             = &Var{Name: "LOG_LEVEL", Default: "INFO", Shell: true, Kind: Level, Doc: "structured JSON logs; keys, tokens, secrets and bodies are never logged"}
)

// Vars is every variable any function reads.
var Vars = []*Var{
	AssetsTable, IntegrationsTable, DeliveryQueueURL, DeliveryDLQURL, StreamDLQURL, AppKeySecretARN, APILogShards, DeliveryShards,
	BcryptCost, KeyCacheSize, KeyCacheTTL, LastUsedInterval, IdempotencyTTL, APIRateLimit, APIRateBurst,
	KeyLookupsPerSource, AcceptLegacyKeys, SecretScanningKeys, TestEventsPerMinute, ResendsPerMinute, DeliveryTimeout,
	RetrySchedule, RetryHoldMax, DispatchConcurrency, SendRate, SlowAfter, SlowEndpointSlots, SlowTenantSlots, AutoDisableAfter, AutoDisableSpacing, WebhookCacheTTL,
	RouterConcurrency, WebhookAllowPrivate,
	PublicAPIURL, EntraClientID, EntraClientSecretARN, EntraSyncQueueURL, EntraLoginURL, GraphURL, EntraReturnURL,
	Region, RecordRetentionDays, StackName, LogLevel,
}

// Lookup is os.LookupEnv's shape, so tests and the local stack can supply a map.
type Lookup func(string) (string, bool)

// Map looks variables up in a map (the local stack's view of template.yaml).
func Map(m map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// Function is a function's config: one of the types in functions.go.
type Function interface {
	common() *Common
	read(*reader)
}

// Common is what every function reads.
type Common struct {
	LogLevel slog.Level
	// Stack is the stack's name, the dimension of every metric.
	Stack string
	// Retention is how long API call rows, delivery records and System
	// entries are kept (0: for ever).
	Retention retention.Policy
}

func (c *Common) common() *Common { return c }

// Parse fills c from lookup, or says what is wrong with every variable.
func Parse(lookup Lookup, c Function) error {
	r := &reader{lookup: lookup}
	c.common().LogLevel = r.level(LogLevel)
	c.common().Retention = retention.Policy{Days: r.int(RecordRetentionDays)}
	c.common().Stack = r.text(StackName)
	c.read(r)
	return errors.Join(r.errs...)
}

// FromEnv fills c from the process environment.
func FromEnv(c Function) error { return Parse(os.LookupEnv, c) }

// LogLevelOf is the log level c was configured with.
func LogLevelOf(c Function) slog.Level { return c.common().LogLevel }

// StackOf is the stack c's function belongs to.
func StackOf(c Function) string { return c.common().Stack }

// Uses lists the variables c's function reads, in the order it reads them.
func Uses(c Function) []*Var {
	r := &reader{lookup: func(string) (string, bool) { return "", false }, uses: []*Var{}}
	r.level(LogLevel)
	r.int(RecordRetentionDays)
	r.text(StackName)
	c.read(r)
	return r.uses
}

type reader struct {
	lookup Lookup
	errs   []error
	uses   []*Var // non-nil: recording what is read
}

// get returns the variable's text: set, else its default; a Required one
// that is unset is an error.
func (r *reader) get(v *Var, kind Kind) (string, bool) {
	if v.Kind != kind {
		panic(fmt.Sprintf("config: %s is not read as its kind", v.Name)) // a mistake in this package; TestEveryVarParsesItsDefault catches it
	}
	if r.uses != nil {
		r.uses = append(r.uses, v)
		return v.Default, v.Default != ""
	}
	s, ok := r.lookup(v.Name)
	s = strings.TrimSpace(s)
	if !ok || s == "" {
		if v.Required {
			r.fail(v, "is required")
			return "", false
		}
		s = v.Default
	}
	return s, s != ""
}

func (r *reader) fail(v *Var, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("config: %s "+format, append([]any{v.Name}, args...)...))
}

func (r *reader) text(v *Var) string {
	s, _ := r.get(v, Text)
	return s
}

func (r *reader) int(v *Var) int {
	s, ok := r.get(v, Int)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < v.Min || n > v.Max {
		r.fail(v, "must be an integer in [%d, %d], got %q", v.Min, v.Max, s)
		return 0
	}
	return int(n)
}

func (r *reader) duration(v *Var) time.Duration {
	s, ok := r.get(v, Duration)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Duration(max(v.Min, 0)) || (v.Max > 0 && d > time.Duration(v.Max)) {
		r.fail(v, "must be a duration like 90s%s, got %q", upTo(v), s)
		return 0
	}
	return d
}

func (r *reader) durations(v *Var) []time.Duration {
	s, ok := r.get(v, Durations)
	if !ok {
		return nil
	}
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 || (v.Max > 0 && d > time.Duration(v.Max)) {
			r.fail(v, "must be positive durations like 5s,5m%s, got %q", upTo(v), s)
			return nil
		}
		out = append(out, d)
	}
	return out
}

func upTo(v *Var) string {
	s := ""
	if v.Min > 0 {
		s = " from " + time.Duration(v.Min).String()
	}
	if v.Max > 0 {
		s += " up to " + time.Duration(v.Max).String()
	}
	return s
}

func (r *reader) bool(v *Var) bool {
	s, _ := r.get(v, Bool)
	switch s {
	case "true":
		return true
	case "false", "":
		return false
	}
	r.fail(v, "must be true or false, got %q", s)
	return false
}

func (r *reader) level(v *Var) slog.Level {
	s, _ := r.get(v, Level)
	var l slog.Level
	switch strings.ToUpper(s) {
	case "DEBUG", "INFO", "WARN", "ERROR":
		_ = l.UnmarshalText([]byte(s))
	default:
		r.fail(v, "must be DEBUG, INFO, WARN or ERROR, got %q", s)
	}
	return l
}

// baseURL reads an optional base URL: https://host[:port][/path], or http://
// for a loopback host (the local stack); no credentials, query or fragment.
func (r *reader) baseURL(v *Var) string {
	s, ok := r.get(v, BaseURL)
	if !ok {
		return ""
	}
	u, err := url.Parse(s)
	good := err == nil && u.User == nil && u.RawQuery == "" && u.Fragment == "" && !u.ForceQuery &&
		baseHost.MatchString(u.Host) && (u.Path == "" || basePath.MatchString(u.Path))
	if good {
		switch u.Scheme {
		case "https":
		case "http":
			good = u.Hostname() == "localhost" || net.ParseIP(u.Hostname()).IsLoopback()
		default:
			good = false
		}
	}
	if !good {
		r.fail(v, "must be https://host[:port][/path] (http:// only for a loopback host), got %q", s)
		return ""
	}
	return strings.TrimSuffix(s, "/")
}

var (
	baseHost = regexp.MustCompile(`^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$`)
	basePath = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)*/?$`)
)
