package config

import "time"

// IntegrationAPI is IntegrationApiFunction's config: API-key verification,
// asset writes, idempotency and the API call log.
type IntegrationAPI struct {
	Common
	AssetsTable, IntegrationsTable string
	APILogShards                   int
	KeyCacheSize                   int
	KeyCacheTTL                    time.Duration
	LastUsedInterval               time.Duration
	IdempotencyTTL                 time.Duration
	APIRateLimit, APIRateBurst     int
	KeyLookupsPerSource            int
	AcceptLegacyKeys               bool
}

func (c *IntegrationAPI) read(r *reader) {
	c.AssetsTable = r.text(AssetsTable)
	c.IntegrationsTable = r.text(IntegrationsTable)
	c.APILogShards = r.int(APILogShards)
	c.KeyCacheSize = r.int(KeyCacheSize)
	c.KeyCacheTTL = r.duration(KeyCacheTTL)
	c.LastUsedInterval = r.duration(LastUsedInterval)
	c.IdempotencyTTL = r.duration(IdempotencyTTL)
	c.APIRateLimit = r.int(APIRateLimit)
	c.APIRateBurst = r.int(APIRateBurst)
	c.KeyLookupsPerSource = r.int(KeyLookupsPerSource)
	c.AcceptLegacyKeys = r.bool(AcceptLegacyKeys)
}

// AdminAPI is AdminApiFunction's config: keys, webhooks (sealed secrets, test
// events on the queue), the activity log and the Developer Guide.
type AdminAPI struct {
	Common
	IntegrationsTable   string
	DeliveryQueueURL    string
	AppKeySecretARN     string
	APILogShards        int
	DeliveryShards      int
	BcryptCost          int
	WebhookAllowPrivate bool
	PublicAPIURL        string
	Region              string
	Entra               Entra
	EntraReturnURL      string
	TestEventsPerMinute int
	ResendsPerMinute    int
	// RetrySchedule: how far before a webhook's failing streak its first
	// failed delivery's event can lie (a resume's suggested recovery).
	RetrySchedule []time.Duration
	// SecretScanningKeys verify leak reports; AcceptLegacyKeys, whether a
	// reported key without a checksum can be ours.
	SecretScanningKeys string
	AcceptLegacyKeys   bool
}

// Entra is what reaches Microsoft as the app, and the sync queue: read by
// the admin API (connect, callback, sync now) and by EntraSyncFunction.
type Entra struct {
	ClientID, ClientSecretARN string
	LoginURL, GraphURL        string
	SyncQueueURL              string
}

func (c *Entra) read(r *reader) {
	c.ClientID = r.text(EntraClientID)
	c.ClientSecretARN = r.text(EntraClientSecretARN)
	c.SyncQueueURL = r.text(EntraSyncQueueURL)
	c.LoginURL = r.baseURL(EntraLoginURL)
	c.GraphURL = r.baseURL(GraphURL)
}

func (c *AdminAPI) read(r *reader) {
	c.IntegrationsTable = r.text(IntegrationsTable)
	c.DeliveryQueueURL = r.text(DeliveryQueueURL)
	c.AppKeySecretARN = r.text(AppKeySecretARN)
	c.APILogShards = r.int(APILogShards)
	c.DeliveryShards = r.int(DeliveryShards)
	c.BcryptCost = r.int(BcryptCost)
	c.WebhookAllowPrivate = r.bool(WebhookAllowPrivate)
	c.PublicAPIURL = r.baseURL(PublicAPIURL)
	c.Region = r.text(Region)
	c.Entra.read(r)
	c.EntraReturnURL = r.baseURL(EntraReturnURL)
	c.TestEventsPerMinute = r.int(TestEventsPerMinute)
	c.ResendsPerMinute = r.int(ResendsPerMinute)
	c.RetrySchedule = r.durations(RetrySchedule)
	c.SecretScanningKeys = r.text(SecretScanningKeys)
	c.AcceptLegacyKeys = r.bool(AcceptLegacyKeys)
}

// StreamRouter is StreamRouterFunction's config: subscriptions in, delivery
// records and queue messages out, and the due-date index kept. It never
// opens a sealed secret.
type StreamRouter struct {
	Common
	AssetsTable       string
	IntegrationsTable string
	DeliveryQueueURL  string
	StreamDLQURL      string
	DeliveryShards    int
	RouterConcurrency int
}

func (c *StreamRouter) read(r *reader) {
	c.AssetsTable = r.text(AssetsTable)
	c.IntegrationsTable = r.text(IntegrationsTable)
	c.DeliveryQueueURL = r.text(DeliveryQueueURL)
	c.StreamDLQURL = r.text(StreamDLQURL)
	c.DeliveryShards = r.int(DeliveryShards)
	c.RouterConcurrency = r.int(RouterConcurrency)
}

// Dispatcher is DispatcherFunction's config: attempts, retries and results.
type Dispatcher struct {
	Common
	IntegrationsTable string
	DeliveryQueueURL  string
	DeliveryDLQURL    string
	AppKeySecretARN   string
	DeliveryShards    int
	DeliveryTimeout   time.Duration
	RetrySchedule     []time.Duration
	// RetryHoldMax: a retry due sooner than this waits as an in-flight message
	// (hidden by its visibility); one due later leaves the in-flight set,
	// re-sent with a delay (at most SQS's 15 minutes) and re-delayed until
	// due, so an outage cannot fill the queue's in-flight quota.
	RetryHoldMax        time.Duration
	DispatchConcurrency int
	// The gate: each webhook's send rate, and the shares of the dispatcher
	// a slow webhook and a tenant's slow webhooks may hold.
	SendRate            int
	SlowAfter           time.Duration
	SlowEndpointSlots   int
	SlowTenantSlots     int
	AutoDisableAfter    time.Duration
	AutoDisableSpacing  time.Duration
	WebhookCacheTTL     time.Duration
	WebhookAllowPrivate bool
}

func (c *Dispatcher) read(r *reader) {
	c.IntegrationsTable = r.text(IntegrationsTable)
	c.DeliveryQueueURL = r.text(DeliveryQueueURL)
	c.DeliveryDLQURL = r.text(DeliveryDLQURL)
	c.AppKeySecretARN = r.text(AppKeySecretARN)
	c.DeliveryShards = r.int(DeliveryShards)
	c.DeliveryTimeout = r.duration(DeliveryTimeout)
	c.RetrySchedule = r.durations(RetrySchedule)
	c.RetryHoldMax = r.duration(RetryHoldMax)
	c.DispatchConcurrency = r.int(DispatchConcurrency)
	c.SendRate = r.int(SendRate)
	c.SlowAfter = r.duration(SlowAfter)
	c.SlowEndpointSlots = r.int(SlowEndpointSlots)
	c.SlowTenantSlots = r.int(SlowTenantSlots)
	c.AutoDisableAfter = r.duration(AutoDisableAfter)
	c.AutoDisableSpacing = r.duration(AutoDisableSpacing)
	c.WebhookCacheTTL = r.duration(WebhookCacheTTL)
	c.WebhookAllowPrivate = r.bool(WebhookAllowPrivate)
}

// ExpiryAlerts is ExpiryAlertsFunction's config: the due-date index and the
// items in, alert deliveries out.
type ExpiryAlerts struct {
	Common
	AssetsTable       string
	IntegrationsTable string
	DeliveryQueueURL  string
	DeliveryShards    int
}

func (c *ExpiryAlerts) read(r *reader) {
	c.AssetsTable = r.text(AssetsTable)
	c.IntegrationsTable = r.text(IntegrationsTable)
	c.DeliveryQueueURL = r.text(DeliveryQueueURL)
	c.DeliveryShards = r.int(DeliveryShards)
}

// EntraSync is EntraSyncFunction's config: connections, groups and
// accounts in IntegrationsTable, Microsoft as the app, the job queue.
type EntraSync struct {
	Common
	IntegrationsTable string
	Entra             Entra
}

func (c *EntraSync) read(r *reader) {
	c.IntegrationsTable = r.text(IntegrationsTable)
	c.Entra.read(r)
}
