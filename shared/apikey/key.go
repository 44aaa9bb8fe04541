// Package apikey issues, stores and verifies the integration API's keys.
//
// A key is "ua_live_" + 64 lowercase hex: 72 bytes, exactly bcrypt's input
// limit, so the whole key is hashed. The first 56 hex digits are random (28
// bytes); the last 8 are a CRC-32 of everything before them, so a scanner
// (ours, or a secret-scanning partner) tells a real key from random hex
// with no database read, and a mistyped key is refused before any read.
// Keys issued before the checksum (64 random digits) keep working while
// AcceptLegacy is set. The display prefix is the first 12 characters (the
// spec). Lookup uses a longer prefix: the 16 hex characters after
// "ua_live_" (64 bits), so a lookup finds one candidate hash, never
// several; the 160 random bits after it stay secret behind bcrypt.
package apikey

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"regexp"
	"slices"
	"time"

	"github.com/uniasset/integrations/shared/isotime"
)

const (
	Scheme        = "ua_live_"
	keyHexLen     = 64
	checksumLen   = 8
	displayLen    = 12
	lookupHexLen  = 16
	maxNameLength = 100
)

var format = regexp.MustCompile(`^ua_live_[0-9a-f]{64}$`)

// WellFormed reports whether s has the exact key format (lowercase hex only).
func WellFormed(s string) bool { return len(s) == len(Scheme)+keyHexLen && format.MatchString(s) }

// Generate returns a new random key string, its last 8 hex digits the
// checksum of the rest.
func Generate() (string, error) {
	var b [(keyHexLen - checksumLen) / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	body := Scheme + hex.EncodeToString(b[:])
	return body + checksum(body), nil
}

// checksum is the CRC-32 (IEEE) of body, as 8 lowercase hex digits.
func checksum(body string) string {
	return fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(body)))
}

// Checksummed reports whether a well-formed key carries a valid checksum:
// a key issued with one, and not mistyped. A scanner checks it offline:
// ua_live_ + 56 hex, then the CRC-32 of those 64 characters as 8 hex.
func Checksummed(key string) bool {
	if !WellFormed(key) {
		return false
	}
	cut := len(key) - checksumLen
	return subtle.ConstantTimeCompare([]byte(checksum(key[:cut])), []byte(key[cut:])) == 1
}

// DisplayPrefix is what the registry shows to identify a key without exposing it.
func DisplayPrefix(key string) string { return key[:displayLen] }

// LookupID is the index under which a key's record is found.
func LookupID(key string) string { return key[len(Scheme) : len(Scheme)+lookupHexLen] }

// Permission scopes what a key may do.
type Permission string

const (
	AssetCreate       Permission = "asset:create"
	AssetUpdate       Permission = "asset:update"
	AssetLocation     Permission = "asset:location"
	AssignmentUpdate  Permission = "assignment:update"
	MaintenanceCreate Permission = "maintenance:create"
	MaintenanceUpdate Permission = "maintenance:update"
	DocumentWrite     Permission = "document:write"
)

// Permissions lists every permission in the order the registry shows them.
var Permissions = []Permission{AssetCreate, AssetUpdate, AssetLocation, AssignmentUpdate, MaintenanceCreate, MaintenanceUpdate, DocumentWrite}

// Known reports whether p is a defined permission.
func (p Permission) Known() bool { return slices.Contains(Permissions, p) }

// Key is one API key's record. Hash never leaves the store layer in a response.
type Key struct {
	TenantID    string       `dynamodbav:"tenantId"`
	ID          string       `dynamodbav:"keyId"`
	Name        string       `dynamodbav:"name"`
	Prefix      string       `dynamodbav:"prefix"`
	Lookup      string       `dynamodbav:"lookup"`
	Hash        string       `dynamodbav:"hash"`
	Permissions []Permission `dynamodbav:"permissions"`
	CreatedAt   string       `dynamodbav:"createdAt"`
	CreatedBy   string       `dynamodbav:"createdBy"`
	LastUsedAt  string       `dynamodbav:"lastUsedAt,omitempty"`
	// LastUsedIP and LastUsedUserAgent are where the use recorded at
	// LastUsedAt came from (the source address API Gateway saw; the
	// User-Agent redacted and cut to 256 characters).
	LastUsedIP        string `dynamodbav:"lastUsedIp,omitempty"`
	LastUsedUserAgent string `dynamodbav:"lastUsedUserAgent,omitempty"`
	RevokedAt         string `dynamodbav:"revokedAt,omitempty"`
	RevokedBy         string `dynamodbav:"revokedBy,omitempty"`
	// ValidUntil is when the key stops working ("": never). Not named
	// expiresAt: that is the table's TTL attribute, which would delete
	// the record the registry keeps for audit.
	ValidUntil string `dynamodbav:"validUntil,omitempty"`
	// RolledTo is the key a roll replaced this one with; RolledFrom, the
	// key this one replaced.
	RolledTo   string `dynamodbav:"rolledTo,omitempty"`
	RolledFrom string `dynamodbav:"rolledFrom,omitempty"`
	// AllowedIPs are the networks (CIDR) requests with the key may come
	// from (none: any).
	AllowedIPs []string `dynamodbav:"allowedIps,omitempty"`
	// RateLimit is the key's own limit (nil: only its tenant's); LimitID
	// names its state (OwnLimit), passed on by a roll.
	RateLimit *RateLimit `dynamodbav:"rateLimit,omitempty"`
	LimitID   string     `dynamodbav:"limitId,omitempty"`
	// Checked: the key carries a checksum (issued since keys have one).
	Checked bool `dynamodbav:"checked,omitempty"`
	// ExpiryDay puts a key with an end in the ByResource partition of that
	// day (keyschema.KeyExpiryPK), for the expiry notices; the Noticed
	// flags say which were written.
	ExpiryDay       string `dynamodbav:"GSI1PK,omitempty"`
	NoticedExpiring bool   `dynamodbav:"noticedExpiring,omitempty"`
	NoticedExpired  bool   `dynamodbav:"noticedExpired,omitempty"`
}

// Revoked reports whether the key has been revoked.
func (k Key) Revoked() bool { return k.RevokedAt != "" }

// Expired reports whether the key's time has passed at now.
func (k Key) Expired(now time.Time) bool {
	if k.ValidUntil == "" {
		return false
	}
	until, err := isotime.Parse(k.ValidUntil)
	return err != nil || !now.Before(until) // an unreadable time fails closed
}

// Works reports whether the key authenticates at now.
func (k Key) Works(now time.Time) bool { return !k.Revoked() && !k.Expired(now) }

// Has reports whether the key carries permission p.
func (k Key) Has(p Permission) bool { return slices.Contains(k.Permissions, p) }

// View is the registry's JSON shape: nulls for "never used" and "not revoked".
type View struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Prefix      string       `json:"prefix"`
	Permissions []Permission `json:"permissions"`
	Status      string       `json:"status"`
	CreatedAt   string       `json:"createdAt"`
	CreatedBy   string       `json:"createdBy"`
	LastUsedAt  *string      `json:"lastUsedAt"`
	// LastUsedIP and LastUsedUserAgent: where the use at lastUsedAt came
	// from (null with it).
	LastUsedIP        *string `json:"lastUsedIp"`
	LastUsedUserAgent *string `json:"lastUsedUserAgent"`
	RevokedAt         *string `json:"revokedAt"`
	RevokedBy         *string `json:"revokedBy"`
	// ExpiresAt is when the key stops working (null: never); a rolled
	// key's is the end of its overlap.
	ExpiresAt  *string `json:"expiresAt"`
	RolledTo   *string `json:"rolledTo"`
	RolledFrom *string `json:"rolledFrom"`
	// AllowedIPs: the networks the key works from ([]: anywhere).
	AllowedIPs []string `json:"allowedIps"`
	// RateLimit: the key's own limit (null: only its tenant's).
	RateLimit *RateLimit `json:"rateLimit"`
	// LegacyFormat: issued before keys carried a checksum; roll it to get
	// one that scanners recognise.
	LegacyFormat bool `json:"legacyFormat"`
}

// View renders the registry row for k as of now: status is active,
// expired or revoked.
func (k Key) View(now time.Time) View {
	v := View{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Permissions: k.Permissions, Status: "active",
		CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy}
	if v.Permissions == nil {
		v.Permissions = []Permission{}
	}
	v.LegacyFormat = !k.Checked
	v.AllowedIPs, v.RateLimit = k.AllowedIPs, k.RateLimit
	if v.AllowedIPs == nil {
		v.AllowedIPs = []string{}
	}
	if k.LastUsedAt != "" {
		v.LastUsedAt = &k.LastUsedAt
		v.LastUsedIP, v.LastUsedUserAgent = &k.LastUsedIP, &k.LastUsedUserAgent
	}
	if k.ValidUntil != "" {
		v.ExpiresAt = &k.ValidUntil
	}
	if k.RolledTo != "" {
		v.RolledTo = &k.RolledTo
	}
	if k.RolledFrom != "" {
		v.RolledFrom = &k.RolledFrom
	}
	switch {
	case k.Revoked():
		v.Status = "revoked"
		v.RevokedAt, v.RevokedBy = &k.RevokedAt, &k.RevokedBy
	case k.Expired(now):
		v.Status = "expired"
	}
	return v
}
