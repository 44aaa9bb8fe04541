// Package entra is the Microsoft Entra ID directory sync: the connection a
// tenant makes through Microsoft's admin-consent flow, its group-to-role
// mappings and settings, and the sync that provisions, changes and
// deprovisions the accounts it created — and nothing else.
//
// The sync's rule of safety: it writes only after it has read the whole
// directory. A credential Microsoft refuses, a throttled or failing page,
// anything short of every page of every mapped group, changes no account
// and says why in the connection's status; an unreadable directory is never
// taken for an empty one. Removals past the deletion threshold are held for
// an Owner to approve.
package entra

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"

	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/tenant"
)

// Status is a connection's state, shown at the top of the Entra page.
type Status string

const (
	// Connected: the last sync (or the connect) read the directory.
	Connected Status = "connected"
	// ReauthRequired: Microsoft refused the app's credential for the tenant
	// (consent withdrawn, the app removed): an Owner must connect again.
	ReauthRequired Status = "reauth_required"
	// Failing: the last sync could not read the directory for another
	// reason (throttling past its retries, a failing page); the next retries.
	Failing Status = "error"
	// Disconnected: an Owner disconnected; nothing syncs, accounts stay.
	Disconnected Status = "disconnected"
)

// Roles are the roles a group can map to, highest first. (Manager is not
// among them: the spec's Group Mapper offers these four.)
var Roles = []tenant.Role{tenant.Owner, tenant.Admin, tenant.Member, tenant.Viewer}

// rank orders roles: a user in several mapped groups gets the highest.
func rank(r tenant.Role) int {
	if i := slices.Index(Roles, r); i >= 0 {
		return len(Roles) - i
	}
	return 0
}

// Settings are the tenant's sync options.
type Settings struct {
	AutoProvision   bool      `dynamodbav:"autoProvision" json:"autoProvision"`
	DeprovisionSync bool      `dynamodbav:"deprovisionSync" json:"deprovisionSync"`
	Threshold       Threshold `dynamodbav:"deprovisionThreshold" json:"deprovisionThreshold"`
}

// Threshold is the deletion guard: a sync that would deprovision more than
// Percent of the synced accounts and more than Count of them holds those
// removals for an Owner to approve.
type Threshold struct {
	Percent int `dynamodbav:"percent" json:"percent"`
	Count   int `dynamodbav:"count" json:"count"`
}

// DefaultSettings apply until an Owner changes them: provisioning and
// deprovisioning on, removals past 20% and 5 accounts held (Okta's import
// safeguard is 20%; Entra's accidental-deletion guard counts accounts).
var DefaultSettings = Settings{AutoProvision: true, DeprovisionSync: true, Threshold: Threshold{Percent: 20, Count: 5}}

// Over reports whether removing n of base accounts passes the threshold.
func (t Threshold) Over(n, base int) bool {
	return n > t.Count && n*100 > t.Percent*base
}

// Limits on what an Owner may set.
const (
	MaxMappings       = 500
	MaxThresholdCount = 100_000
)

// Connection is a tenant's Entra connection item.
type Connection struct {
	MicrosoftTenantID string    `dynamodbav:"microsoftTenantId,omitempty"`
	Domain            string    `dynamodbav:"domain,omitempty"`
	OrganizationName  string    `dynamodbav:"organizationName,omitempty"`
	Status            Status    `dynamodbav:"status,omitempty"`
	StatusReason      string    `dynamodbav:"statusReason,omitempty"`
	ConnectedAt       string    `dynamodbav:"connectedAt,omitempty"`
	ConnectedBy       string    `dynamodbav:"connectedBy,omitempty"`
	ConsentedBy       string    `dynamodbav:"consentedBy,omitempty"` // the Microsoft account that signed in and consented
	LastSyncAt        string    `dynamodbav:"lastSyncAt,omitempty"`
	LastSync          *Result   `dynamodbav:"lastSync,omitempty"`
	Settings          *Settings `dynamodbav:"settings,omitempty"`
	SettingsVersion   int       `dynamodbav:"settingsVersion,omitempty"` // counts settings writes
	// Mappings: group object id -> role.
	Mappings     map[string]tenant.Role `dynamodbav:"mappings,omitempty"`
	GroupsReadAt string                 `dynamodbav:"groupsReadAt,omitempty"`
	GroupsStale  bool                   `dynamodbav:"groupsStale,omitempty"`
	Held         *Held                  `dynamodbav:"held,omitempty"`
	// ApprovedDigest is the held set an Owner approved; the next sync
	// applies those removals if the set is still the same.
	ApprovedDigest string `dynamodbav:"approvedDigest,omitempty"`
	// Applied is the Fingerprint of the last sync whose plan was written in
	// full with nothing held, at AppliedAt; a sync that starts writing
	// removes it first.
	Applied    string `dynamodbav:"applied,omitempty"`
	AppliedAt  string `dynamodbav:"appliedAt,omitempty"`
	LeaseUntil string `dynamodbav:"leaseUntil,omitempty"`
	LeaseID    string `dynamodbav:"leaseId,omitempty"`
}

// Active reports whether the connection syncs (connected, even if its last
// sync failed).
func (c Connection) Active() bool { return c.MicrosoftTenantID != "" && c.Status != Disconnected }

// SettingsOrDefault is the connection's settings, or the defaults.
func (c Connection) SettingsOrDefault() Settings {
	if c.Settings == nil {
		return DefaultSettings
	}
	return *c.Settings
}

// Held is a set of removals waiting for an Owner.
type Held struct {
	Count  int    `dynamodbav:"count" json:"count"`
	Digest string `dynamodbav:"digest" json:"digest"`
	Since  string `dynamodbav:"since" json:"since"`
}

// Result is what one sync did, or why it did nothing.
type Result struct {
	Outcome       string `dynamodbav:"outcome" json:"outcome"` // succeeded, held (removals waiting), failed
	Provisioned   int    `dynamodbav:"provisioned" json:"provisioned"`
	RoleChanges   int    `dynamodbav:"roleChanges" json:"roleChanges"`
	Deprovisioned int    `dynamodbav:"deprovisioned" json:"deprovisioned"`
	Held          int    `dynamodbav:"held" json:"held"`
	Updated       int    `dynamodbav:"updated" json:"updated"` // name, e-mail or groups changed
	Users         int    `dynamodbav:"users" json:"users"`     // enabled users in mapped groups
	Error         string `dynamodbav:"error,omitempty" json:"error,omitempty"`
}

// Outcomes.
const (
	Succeeded = "succeeded"
	HeldBack  = "held"
	Failed    = "failed"
)

// Group is a security group as last read from the directory.
type Group struct {
	ID          string `dynamodbav:"id" json:"id"`
	DisplayName string `dynamodbav:"displayName" json:"displayName"`
	Description string `dynamodbav:"description" json:"description"`
}

// Account statuses.
const (
	Active   = "active"
	Disabled = "disabled"
)

// Reasons an account was disabled.
const (
	LeftGroups      = "left_mapped_groups" // no longer in a mapped group, or deleted in Entra
	DisabledInEntra = "disabled_in_entra"
)

// Account is a UniAsset account the sync provisioned.
type Account struct {
	EntraID           string      `dynamodbav:"entraId" json:"entraId"`
	MicrosoftTenantID string      `dynamodbav:"microsoftTenantId" json:"microsoftTenantId"`
	DisplayName       string      `dynamodbav:"displayName" json:"displayName"`
	Email             string      `dynamodbav:"email" json:"email"`
	UserPrincipalName string      `dynamodbav:"userPrincipalName" json:"userPrincipalName"`
	Role              tenant.Role `dynamodbav:"role" json:"role"`
	Status            string      `dynamodbav:"status" json:"status"`
	Groups            []string    `dynamodbav:"groups" json:"groups"`
	DisabledReason    string      `dynamodbav:"disabledReason,omitempty" json:"disabledReason,omitempty"`
	// PendingRemoval: the sync would deprovision it, but the removal is held.
	PendingRemoval bool   `dynamodbav:"pendingRemoval,omitempty" json:"pendingRemoval"`
	ProvisionedAt  string `dynamodbav:"provisionedAt" json:"provisionedAt"`
	ChangedAt      string `dynamodbav:"changedAt" json:"changedAt"`
}

// AccountShards is how many partitions a tenant's accounts are written
// across. It is part of every account's key, so it is a constant, not a
// setting: changing it would lose the accounts already written.
const AccountShards = 8

// shardOf is the account's write shard.
func shardOf(entraID string) int { return keyschema.Shard(entraID, AccountShards) }

// digest names a set of account ids: what an Owner approves is exactly the
// set the digest was made from.
func digest(ids []string) string {
	s := slices.Clone(ids)
	slices.Sort(s)
	sum := sha256.Sum256([]byte(strings.Join(s, "\n")))
	return hex.EncodeToString(sum[:8])
}

// guidPattern is a Microsoft object or tenant id.
var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// ValidGUID reports whether s is a GUID, as Microsoft's ids are.
func ValidGUID(s string) bool { return guidPattern.MatchString(s) }
