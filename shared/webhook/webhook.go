// Package webhook holds webhook subscriptions: the event catalogue, the
// create/edit bodies and their validation, signing secrets, the health badge,
// and the IntegrationsTable store (secret and custom headers sealed at rest).
package webhook

import (
	"crypto/rand"
	"encoding/base64"
	"slices"
	"strings"
	"time"

	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/redact"
)

// Events is the catalogue (the spec's table), in the order the Overview lists it.
var Events = []struct{ Name, Description string }{
	{"asset.created", "A new asset is created"},
	{"asset.updated", "An asset record is updated"},
	{"asset.assigned", "An asset assignment changes"},
	{"geo_position.updated", "Asset geo-position data is updated"},
	{"maintenance.created", "A maintenance record is created"},
	{"maintenance.due_soon", "Maintenance is approaching its due date"},
	{"maintenance.overdue", "Maintenance passes its due date"},
	{"document.expiring", "A linked document is near expiration"},
	{"document.expired", "A linked document has expired"},
	{"document_asset.expiring", "A document-type asset is near expiration"},
	{"document_asset.expired", "A document-type asset has expired"},
	{"warranty.expiring", "An asset warranty is near expiration"},
	{"incident.created", "A new incident is recorded"},
	// Beyond the spec's thirteen (issue 23): what deletions and completed
	// work look like to a receiver.
	{"asset.deleted", "An asset is deleted"},
	{"maintenance.completed", "A maintenance record is completed"},
	// About the tenant's webhooks themselves: another webhook of theirs
	// was disabled after sustained failure.
	{"webhook.disabled", "A webhook is disabled after failing for days"},
}

// KnownEvent reports whether name is in the catalogue.
func KnownEvent(name string) bool {
	return slices.ContainsFunc(Events, func(e struct{ Name, Description string }) bool { return e.Name == name })
}

// Status is whether deliveries are sent.
const (
	Active = "active"
	Paused = "paused"
	// Disabled is set by the dispatcher after sustained failure
	// (DisableRule); resume re-enables it.
	Disabled = "disabled"
)

// Webhook is one subscription. Secret and Headers are plaintext in memory
// only; the store keeps them sealed.
type Webhook struct {
	TenantID string   `dynamodbav:"tenantId"`
	ID       string   `dynamodbav:"webhookId"`
	Name     string   `dynamodbav:"name"`
	URL      string   `dynamodbav:"url"`
	Events   []string `dynamodbav:"events,stringset"`
	// Scope limits it to part of the tenant's assets (nil: all of them).
	Scope       *Scope `dynamodbav:"scope,omitempty"`
	Description string `dynamodbav:"description,omitempty"`
	Status      string `dynamodbav:"status"`
	CreatedAt   string `dynamodbav:"createdAt"`
	CreatedBy   string `dynamodbav:"createdBy"`
	UpdatedAt   string `dynamodbav:"updatedAt"`
	// Revision counts the writes of the subscription (edits, pause, resume);
	// an edit is written only over the revision it read. A counter, not
	// updatedAt: two instances' clocks can give a later write an equal or
	// earlier time.
	Revision int64 `dynamodbav:"revision"`
	// RateLimit is the most deliveries a second this webhook receives (0:
	// the dispatcher's SEND_RATE); the excess waits its turn.
	RateLimit int `dynamodbav:"rateLimit,omitempty"`
	// SlowUntil is set while the receiver answers slowly or not at all: the
	// dispatcher then gives it a bounded share (delivery.Gate).
	SlowUntil string `dynamodbav:"slowUntil,omitempty"`
	// HoldUntil is the end of the pause its receiver last asked for
	// (Retry-After): deliveries that already hold a slot wait for it too.
	HoldUntil      string `dynamodbav:"holdUntil,omitempty"`
	LastDeliveryAt string `dynamodbav:"lastDeliveryAt,omitempty"`
	// FailingSince is the first failed attempt after the last success (the
	// badge's failing streak); FailMarks counts the streak's occasions of
	// failure at least DisableRule.Spacing apart, the last at FailMarkAt.
	FailingSince string `dynamodbav:"failingSince,omitempty"`
	FailMarks    int    `dynamodbav:"failMarks,omitempty"`
	FailMarkAt   string `dynamodbav:"failMarkAt,omitempty"`
	// DisabledAt is when the dispatcher disabled it; DisabledNotified, that
	// the tenant's other webhooks were told (webhook.disabled).
	DisabledAt string `dynamodbav:"disabledAt,omitempty"`
	// VerifiedAt is when the endpoint last answered a challenge at this URL
	// (delivery.Challenge); an edit of the URL removes it.
	VerifiedAt         string            `dynamodbav:"verifiedAt,omitempty"`
	DisabledNotified   bool              `dynamodbav:"disabledNotified,omitempty"`
	LastDeliveryStatus string            `dynamodbav:"lastDeliveryStatus,omitempty"`
	Sealed             string            `dynamodbav:"sealed"`
	HeaderNames        []string          `dynamodbav:"headerNames,stringset,omitempty"` // names are not secret; values are sealed
	Secret             string            `dynamodbav:"-"`
	Headers            map[string]string `dynamodbav:"-"`
	// Previous is the secrets rotations replaced, sealed with the current
	// one; PreviousUntil (plain: no secret) is when the last of them stops
	// signing, and Rotations the times of the rotations in the last
	// RotationWindow.
	Previous      []Previous `dynamodbav:"-"`
	PreviousUntil string     `dynamodbav:"previousUntil,omitempty"`
	Rotations     []string   `dynamodbav:"rotations,omitempty"`
}

// Subscribes reports whether the webhook wants event.
func (w Webhook) Subscribes(event string) bool { return slices.Contains(w.Events, event) }

// Wants reports whether the webhook gets event e about asset a (nil: not
// known): it is active, subscribes to e, and its scope takes a.
func (w Webhook) Wants(event string, a *asset.Asset) bool {
	return w.Status == Active && w.Subscribes(event) && w.Scope.Matches(a)
}

// Health is the badge: paused, disabled (after sustained failure), new (no
// delivery yet), healthy or failing (the most recent delivery attempt
// succeeded or failed).
func (w Webhook) Health() string {
	switch {
	case w.Status == Paused:
		return "paused"
	case w.Status == Disabled:
		return "disabled"
	case w.LastDeliveryStatus == "":
		return "new"
	case w.LastDeliveryStatus == OutcomeDelivered:
		return "healthy"
	default:
		return "failing"
	}
}

// View is the JSON shape the admin API returns. Header values are write-only:
// they often hold the receiver's own credentials.
type View struct {
	ID             string            `json:"id"`
	Name           string            `json:"name"`
	URL            string            `json:"url"`
	Events         []string          `json:"events"`
	Filter         *Scope            `json:"filter"` // null: every asset
	Description    string            `json:"description"`
	Headers        map[string]string `json:"headers"`
	RateLimit      *int              `json:"rateLimit"` // null: the default
	Slow           bool              `json:"slow"`
	Status         string            `json:"status"`
	Health         string            `json:"health"`
	LastDeliveryAt *string           `json:"lastDeliveryAt"`
	// FailingSince is when the current streak of failed attempts began
	// (null: the last attempt succeeded, or none was made).
	FailingSince *string `json:"failingSince"`
	DisabledAt   *string `json:"disabledAt"`
	// VerifiedAt is when the endpoint last proved it is the Owner's by
	// echoing a challenge (null: never at this URL). Informational: an
	// unverified endpoint receives events too.
	VerifiedAt *string `json:"verifiedAt"`
	CreatedAt  string  `json:"createdAt"`
	CreatedBy  string  `json:"createdBy"`
	UpdatedAt  string  `json:"updatedAt"`
	// SecretRotatedAt is the last rotation (null: none);
	// PreviousSecretsUntil is when replaced secrets stop signing (null:
	// none signs now).
	SecretRotatedAt      *string `json:"secretRotatedAt"`
	PreviousSecretsUntil *string `json:"previousSecretsUntil"`
}

// View renders w for the admin API.
func (w Webhook) View() View {
	v := View{ID: w.ID, Name: w.Name, URL: w.URL, Events: w.Events, Description: w.Description, Filter: w.Scope,
		Headers: map[string]string{}, Status: w.Status, Health: w.Health(),
		CreatedAt: w.CreatedAt, CreatedBy: w.CreatedBy, UpdatedAt: w.UpdatedAt}
	slices.Sort(v.Events)
	for _, name := range w.HeaderNames {
		v.Headers[name] = redact.Marker
	}
	if w.LastDeliveryAt != "" {
		v.LastDeliveryAt = &w.LastDeliveryAt
	}
	if w.FailingSince != "" {
		v.FailingSince = &w.FailingSince
	}
	if w.Status == Disabled && w.DisabledAt != "" {
		v.DisabledAt = &w.DisabledAt
	}
	if w.VerifiedAt != "" {
		v.VerifiedAt = &w.VerifiedAt
	}
	if w.RateLimit > 0 {
		v.RateLimit = &w.RateLimit
	}
	now := isotime.Format(time.Now())
	v.Slow = w.SlowUntil > now
	if len(w.Rotations) > 0 {
		last := slices.Max(w.Rotations)
		v.SecretRotatedAt = &last
	}
	if w.PreviousUntil > now {
		v.PreviousSecretsUntil = &w.PreviousUntil
	}
	return v
}

// ValidSecret reports whether s is a signing secret as Standard Webhooks
// writes one: whsec_ and the standard base64 (padded) of 24 to 64 bytes.
func ValidSecret(s string) bool {
	rest, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return false
	}
	key, err := base64.StdEncoding.Strict().DecodeString(rest)
	return err == nil && len(key) >= 24 && len(key) <= 64 && base64.StdEncoding.EncodeToString(key) == rest
}

// NewSecret returns a signing secret in the Standard Webhooks form: "whsec_" +
// base64 of 32 random bytes. X-UniAsset-Signature uses the whole string as the
// HMAC key (the spec); webhook-signature uses the decoded bytes (Standard Webhooks).
func NewSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:]), nil
}
