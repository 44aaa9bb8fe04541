// Package keyschema is every partition and sort key of both tables, built and
// read in one place. It mirrors README.md's Data table row by row; a key is
// spelled nowhere else.
package keyschema

import (
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Key is an item's primary key.
type Key struct{ PK, SK string }

// Attrs is the key as DynamoDB takes it (GetItem's Key, an item's PK and SK).
func (k Key) Attrs() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: k.PK},
		"SK": &types.AttributeValueMemberS{Value: k.SK},
	}
}

func tenant(tenantID string) string { return "TENANT#" + tenantID }

// ByResource is IntegrationsTable's global secondary index: partition key
// ByResourcePK, sort key SK. The partitions spelled "ByResource index" below
// are its.
const ByResource = "ByResource"

// ByResourcePK is the attribute an item sets to appear in the ByResource
// index; ByResourceSK is the sort attribute items of AssetsTable's main app
// carry in theirs (the stream passes over both).
const (
	ByResourcePK = "GSI1PK"
	ByResourceSK = "GSI1SK"
)

// Shard is the write shard (0..shards-1) of an item named by id: a stable
// hash, so a reader finds the item in the shard its writer chose. Every
// sharded key uses it; changing it would strand items already written.
func Shard(id string, shards int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % uint32(max(shards, 1)))
}

// ---- AssetsTable ----

// Asset is an asset's own item: TENANT#<t>#ASSET#<id> / ASSET.
func Asset(tenantID, assetID string) Key { return Key{AssetPK(tenantID, assetID), AssetSK} }

// AssetSK is the sort key of an asset's own item.
const AssetSK = "ASSET"

// AssetPK is the partition of an asset and its maintenance records.
func AssetPK(tenantID, assetID string) string { return tenant(tenantID) + "#ASSET#" + assetID }

// ParseAssetPK reads TENANT#<t>#ASSET#<id>.
func ParseAssetPK(pk string) (tenantID, assetID string, ok bool) {
	rest, found := strings.CutPrefix(pk, "TENANT#")
	if !found {
		return "", "", false
	}
	tenantID, assetID, found = strings.Cut(rest, "#ASSET#")
	if !found || tenantID == "" || assetID == "" {
		return "", "", false
	}
	return tenantID, assetID, true
}

// MaintenancePrefix begins the sort key of every maintenance record.
const MaintenancePrefix = "MAINT#"

// Maintenance is a maintenance record: in its asset's partition, MAINT#<id>.
func Maintenance(tenantID, assetID, maintenanceID string) Key {
	return Key{AssetPK(tenantID, assetID), MaintenancePrefix + maintenanceID}
}

// DocumentPrefix begins the sort key of every linked document.
const DocumentPrefix = "DOC#"

// Document is a document linked to an asset: in its asset's partition, DOC#<id>.
func Document(tenantID, assetID, documentID string) Key {
	return Key{AssetPK(tenantID, assetID), DocumentPrefix + documentID}
}

// IncidentPrefix begins the sort key of every incident (the main app writes them).
const IncidentPrefix = "INCIDENT#"

// ExternalID is the claim that makes an externalId unique in a tenant:
// TENANT#<t>#EXTID#<externalId> / EXTID.
func ExternalID(tenantID, externalID string) Key {
	return Key{tenant(tenantID) + "#EXTID#" + externalID, "EXTID"}
}

// ---- IntegrationsTable ----

// Profile is the tenant's profile (name, plan): TENANT#<t> / PROFILE.
func Profile(tenantID string) Key { return Key{tenant(tenantID), ProfileSK} }

// ProfileSK is the profile's sort key.
const ProfileSK = "PROFILE"

// TenantPK is the partition of a tenant's profile, API keys and webhooks.
func TenantPK(tenantID string) string { return tenant(tenantID) }

// APIKeyPrefix begins the sort key of every API key.
const APIKeyPrefix = "APIKEY#"

// APIKey is an API key: TENANT#<t> / APIKEY#<id>.
func APIKey(tenantID, keyID string) Key { return Key{tenant(tenantID), APIKeyPrefix + keyID} }

// KeyExpiryPK is the ByResource index partition (GSI1PK) of the API keys
// that end on day (YYYY-MM-DD): the expiry notices read a few days of them.
func KeyExpiryPK(day string) string { return "KEYEXPIRY#" + day }

// KeyPolicy is a tenant's API key policy: TENANT#<t> / KEYPOLICY.
func KeyPolicy(tenantID string) Key { return Key{tenant(tenantID), "KEYPOLICY"} }

// KeyLookup finds a key by its lookup id: KEYLOOKUP#<16 hex> / KEYLOOKUP.
func KeyLookup(lookup string) Key { return Key{"KEYLOOKUP#" + lookup, "KEYLOOKUP"} }

// APILogPK is one write shard of the tenant's API call log (sort key: a ULID).
func APILogPK(tenantID string, shard int) string {
	return tenant(tenantID) + "#APILOG#" + strconv.Itoa(shard)
}

// APIKeyCallsPK is the ByResource index partition of one API key's calls in one shard.
func APIKeyCallsPK(tenantID, keyID string, shard int) string {
	return tenant(tenantID) + "#APIKEY#" + keyID + "#" + strconv.Itoa(shard)
}

// Idempotency is a client key's record, under the key's hash (hex SHA-256):
// TENANT#<t>#IDEMPOTENCY#<hash> / -.
func Idempotency(tenantID, keyHash string) Key {
	return Key{tenant(tenantID) + "#IDEMPOTENCY#" + keyHash, "-"}
}

// WebhookPrefix begins the sort key of every webhook.
const WebhookPrefix = "WEBHOOK#"

// Webhook is a subscription: TENANT#<t> / WEBHOOK#<id>.
func Webhook(tenantID, webhookID string) Key { return Key{tenant(tenantID), WebhookPrefix + webhookID} }

// WebhookCount is the tenant's webhook count (the cap): TENANT#<t> / WEBHOOKS.
func WebhookCount(tenantID string) Key { return Key{tenant(tenantID), "WEBHOOKS"} }

// DeliveryPK is one write shard of the tenant's deliveries.
func DeliveryPK(tenantID string, shard int) string {
	return tenant(tenantID) + "#DELIVERY#" + strconv.Itoa(shard)
}

// DeliverySK orders deliveries by event time: <event time>#<deliveryId>.
func DeliverySK(eventTime, deliveryID string) string { return eventTime + "#" + deliveryID }

// ShardMark holds the highest shard counts the logs were written with
// (shardmark): CONFIG / SHARDS, outside every tenant's partitions.
func ShardMark() Key { return Key{"CONFIG", "SHARDS"} }

// Recovery is one recovery of a webhook's failed deliveries (its progress):
// TENANT#<t> / RECOVERY#<id>.
func Recovery(tenantID, id string) Key { return Key{tenant(tenantID), "RECOVERY#" + id} }

// MaxShards bounds any shard count (the template's DeliveryShards and
// ApiLogShards allow up to 256): a row id naming a higher shard is not one.
const MaxShards = 1024

// DeliveryShardOf is the shard a tenant's delivery partition key names.
func DeliveryShardOf(tenantID, pk string) (int, bool) {
	rest, ok := strings.CutPrefix(pk, tenant(tenantID)+"#DELIVERY#")
	n, err := strconv.Atoi(rest)
	return n, ok && err == nil && n >= 0 && n < MaxShards
}

// WebhookDeliveriesPK is the ByResource index partition of one webhook's deliveries in one shard.
func WebhookDeliveriesPK(tenantID, webhookID string, shard int) string {
	return tenant(tenantID) + "#WEBHOOK#" + webhookID + "#" + strconv.Itoa(shard)
}

// DuePK is one write shard of the due-date index of one alert group on one
// day (UTC): DUE#<group>#<yyyy-mm-dd>#<shard>. Sparse: only items with a date
// that alerts watch have an entry.
func DuePK(group, day string, shard int) string {
	return "DUE#" + group + "#" + day + "#" + strconv.Itoa(shard)
}

// TenantDuePK is one write shard of one tenant's due-date entries of one
// alert group, in the ByResource index (GSI1PK, sorted by DueSK):
// TENANT#<t>#DUE#<group>#<shard>. A tenant's catch-up reads only its own.
func TenantDuePK(tenantID, group string, shard int) string {
	return tenant(tenantID) + "#DUE#" + group + "#" + strconv.Itoa(shard)
}

// DueSK orders a day's entries by the date itself: <dueAt>#<item PK>#<item SK>.
func DueSK(dueAt, itemPK, itemSK string) string { return dueAt + "#" + itemPK + "#" + itemSK }

// AlertSettings is a tenant's alert lead times, in one partition the alert
// pass reads whole: ALERTSETTINGS / <tenantId>.
func AlertSettings(tenantID string) Key { return Key{AlertSettingsPK, tenantID} }

// AlertSettingsPK is the partition of every tenant's alert settings.
const AlertSettingsPK = "ALERTSETTINGS"

// AlertMarker records that one milestone fired: TENANT#<t>#ALERT#<assetId>#<item SK>
// / <event>#<due date>.
func AlertMarker(tenantID, assetID, itemSK, event, dueAt string) Key {
	return Key{tenant(tenantID) + "#ALERT#" + assetID + "#" + itemSK, event + "#" + dueAt}
}

// FiringAlertsPK is the ByResource index partition (GSI1PK) an alert
// marker is in while it is "firing" (its deliveries not yet all queued),
// spread over FiringAlertShards by the marker's key: the sweep that
// finishes a run that died reads these partitions alone.
func FiringAlertsPK(shard int) string { return "ALERTS#FIRING#" + strconv.Itoa(shard) }

// FiringAlertShards spreads firing markers: each alert writes its shard
// twice (firing, then fired).
const FiringAlertShards = 8

// AlertRetry is an alert that failed for its item alone, kept
// for later passes to try again: ALERTRETRY / <tenantId>#<what>, in one
// partition a pass reads whole (such alerts are few).
func AlertRetry(tenantID, what string) Key { return Key{AlertRetryPK, tenantID + "#" + what} }

// AlertRetryPK is the partition of every alert kept for a retry.
const AlertRetryPK = "ALERTRETRY"

// AlertWatermark is how far the alert passes have looked: ALERTJOB / WATERMARK.
func AlertWatermark() Key { return Key{"ALERTJOB", "WATERMARK"} }

// AlertBackfill is how far the backfill of dates written before the index
// has scanned AssetsTable: ALERTJOB / BACKFILL.
func AlertBackfill() Key { return Key{"ALERTJOB", "BACKFILL"} }

// SystemPK is the tenant's system entries (sort key: a ULID).
func SystemPK(tenantID string) string { return tenant(tenantID) + "#SYSLOG" }

// ResourceSystemPK is the ByResource index partition of one resource's system entries.
func ResourceSystemPK(tenantID, resourceType, resourceID string) string {
	return tenant(tenantID) + "#" + strings.ToUpper(resourceType) + "#" + resourceID + "#SYSLOG"
}

// ---- Microsoft Entra ID directory sync ----

// EntraSK is the sort key of a tenant's Entra connection item.
const EntraSK = "ENTRA"

// EntraConnection is the tenant's Entra connection, settings and group
// mappings: TENANT#<t> / ENTRA.
func EntraConnection(tenantID string) Key { return Key{tenant(tenantID), EntraSK} }

// EntraScheduled is the ByResource index partition (GSI1PK) every connected
// tenant's connection item carries, so the schedule finds them without a Scan.
const EntraScheduled = "ENTRA#SCHEDULED"

// EntraGroupPK is the partition of the directory's security groups as last
// read (sort key: the group's object id).
func EntraGroupPK(tenantID string) string { return tenant(tenantID) + "#ENTRAGROUP" }

// EntraAccountPK is one write shard of the accounts the sync provisioned
// (sort key: the user's Entra object id).
func EntraAccountPK(tenantID string, shard int) string {
	return tenant(tenantID) + "#USER#" + strconv.Itoa(shard)
}

// EntraState is a pending admin-consent request, under the hash (hex
// SHA-256) of its state parameter: ENTRASTATE#<hash> / -.
func EntraState(stateHash string) Key { return Key{"ENTRASTATE#" + stateHash, "-"} }

// EntraClaim makes a Microsoft tenant connect to one UniAsset tenant at a
// time: ENTRATENANT#<Microsoft tenant id> / -.
func EntraClaim(microsoftTenantID string) Key {
	return Key{"ENTRATENANT#" + microsoftTenantID, "-"}
}

// RateSK is the sort key of every rate-limit item.
const RateSK = "RATE"

// Rate is one shard of a rate limit's schedule (shared/ratelimit):
// TENANT#<t>#RATE#<scope>#<shard> / RATE (TTL expiresAt). A fresh partition
// per limit and shard, so a busy limit never heats the tenant's partition.
func Rate(tenantID, scope string, shard int) Key {
	return Key{tenant(tenantID) + "#RATE#" + scope + "#" + strconv.Itoa(shard), RateSK}
}

// Rate-limit scopes: a webhook's sends, a tenant's sends to slow receivers,
// a tenant's integration API requests, a webhook's test events.
func RateWebhookSends(webhookID string) string { return "SEND#" + webhookID }

// RateSlowWebhookSends is a slow webhook's schedule (its slots per delivery timeout).
func RateSlowWebhookSends(webhookID string) string { return "SLOW#" + webhookID }

// RateLateSends paces a webhook's deliveries that came back late for their
// slots, per schedule (normal or slow).
func RateLateSends(webhookID string, slow bool) string {
	if slow {
		return "LATESLOW#" + webhookID
	}
	return "LATE#" + webhookID
}

const (
	RateSlowSends = "SLOWSEND"
	// RateLateSlowSends paces a tenant's late deliveries to slow webhooks.
	RateLateSlowSends = "LATESLOWSEND"
	RateAPI           = "API"
)

func RateTestEvents(webhookID string) string { return "TEST#" + webhookID }

// RateRecoveries is one webhook's share of recoveries.
func RateRecoveries(webhookID string) string { return "RECOVER#" + webhookID }

// RateResends is one webhook's share of resends from the Activity Log.
func RateResends(webhookID string) string { return "RESEND#" + webhookID }
