// Package systemlog holds what the system did for a tenant with no caller
// behind it — a webhook starting to fail or recovering, and the scheduled
// jobs to come — as the Activity Log's "System" rows.
//
// System entries are rare (one per state change, not one per request), so a
// tenant's entries share one partition (keyschema.SystemPK), sorted by ULID; the
// ByResource index finds the entries about one resource.
package systemlog

import (
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"

	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/retention"
)

// Events.
const (
	WebhookFailing   = "webhook.failing"          // a delivery attempt failed after the last one succeeded (or none had run)
	WebhookRecovered = "webhook.recovered"        // a delivery attempt succeeded after the last one failed
	DeliveryResent   = "delivery.resent"          // an Owner sent a delivery again from its Activity Log row
	SecretRotated    = "webhook.secret_rotated"   // an Owner replaced a webhook's signing secret
	RecoveryStarted  = "webhook.recovery_started" // an Owner asked for a webhook's failed deliveries again
	WebhookVerified  = "webhook.verified"         // a webhook's endpoint echoed the challenge an Owner asked for
	KeyRolled        = "apikey.rolled"            // an Owner replaced an API key, the old one working until a chosen time
	KeyExpiring      = "apikey.expiring"          // an API key expires within 3 days
	KeyExpired       = "apikey.expired"           // an API key's time passed: requests with it are refused
	KeyLeaked        = "apikey.leaked"            // a secret scanner reported an API key published; it was revoked
	KeyUpdated       = "apikey.updated"           // an Owner changed an API key's name, allowlist or rate limit
)

// Entry is one system event. Details never holds a secret: it is written by
// this codebase from status codes and error classes, not from payloads.
type Entry struct {
	ID           string `dynamodbav:"id" json:"id"`
	TenantID     string `dynamodbav:"tenantId" json:"-"`
	Timestamp    string `dynamodbav:"timestamp" json:"timestamp"`
	Event        string `dynamodbav:"event" json:"event"`
	ResourceType string `dynamodbav:"resourceType" json:"resourceType"` // "webhook"
	ResourceID   string `dynamodbav:"resourceId" json:"resourceId"`
	ResourceName string `dynamodbav:"resourceName" json:"resourceName"`
	Status       string `dynamodbav:"status" json:"status"`
	Details      string `dynamodbav:"details" json:"details"`
	// ExpiresAt is the table's TTL (retention.Policy); 0: kept.
	ExpiresAt int64 `dynamodbav:"expiresAt,omitempty" json:"-"`
}

// Item stamps e with a fresh ULID, its time and its expiry under keep, and
// returns it as a table item, for the caller to write on its own or inside
// a transaction.
func Item(e Entry, at time.Time, keep retention.Policy) (map[string]types.AttributeValue, error) {
	e.ID = strings.ToLower(ulid.MustNew(ulid.Timestamp(at), ulid.DefaultEntropy()).String())
	e.Timestamp = isotime.Format(at)
	e.ExpiresAt = keep.ExpiresAt(at)
	item, err := attributevalue.MarshalMap(e)
	if err != nil {
		return nil, err
	}
	item["PK"] = &types.AttributeValueMemberS{Value: keyschema.SystemPK(e.TenantID)}
	item["SK"] = &types.AttributeValueMemberS{Value: e.ID}
	item[keyschema.ByResourcePK] = &types.AttributeValueMemberS{Value: keyschema.ResourceSystemPK(e.TenantID, e.ResourceType, e.ResourceID)}
	return item, nil
}

// EntryFromItem decodes a stored entry.
func EntryFromItem(item map[string]types.AttributeValue) (Entry, error) {
	var e Entry
	err := attributevalue.UnmarshalMap(item, &e)
	return e, err
}
