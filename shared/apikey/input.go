package apikey

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/validate"
)

// NewKeyInput is the body of POST /api/integrations/api-keys: what an owner
// submits to create a key.
type NewKeyInput struct {
	Name        string       `json:"name"`
	Permissions []Permission `json:"permissions"`
	// ExpiresAt is when the key stops working (ISO 8601; nil: never).
	ExpiresAt *string `json:"expiresAt"`
	// AllowedIPs limits the key to these networks (nil or []: any source).
	AllowedIPs []string `json:"allowedIps"`
	// RateLimit is the key's own limit (nil: only its tenant's).
	RateLimit *RateLimit `json:"rateLimit"`
}

// MaxLifetime bounds a key's expiresAt: ten years is "never" to any
// policy, and a bound keeps a typo (year 20260) out of the registry.
const MaxLifetime = 10 * 366 * 24 * time.Hour

// Validate checks the name and permissions; an empty permission list is allowed
// (the spec: such a key authenticates but may not write anything).
func (in *NewKeyInput) Validate(now time.Time) error {
	var p validate.Problems
	in.AllowedIPs = checkNetworks(&p, "allowedIps", in.AllowedIPs)
	in.RateLimit.check(&p, "rateLimit")
	if in.ExpiresAt != nil {
		at, err := isotime.Parse(*in.ExpiresAt)
		switch {
		case err != nil:
			p.Add("expiresAt", "must be an ISO 8601 time such as 2027-06-30T00:00:00Z")
		case !at.After(now):
			p.Add("expiresAt", "must be in the future")
		case at.After(now.Add(MaxLifetime)):
			p.Add("expiresAt", "must be within 10 years")
		}
	}
	p.Text("name", in.Name, validate.Line, maxNameLength, true)
	if in.Permissions == nil {
		p.Add("permissions", "is required (may be an empty array)")
	}
	seen := map[Permission]bool{}
	for i, perm := range in.Permissions {
		field := fmt.Sprintf("permissions[%d]", i)
		switch {
		case !perm.Known():
			p.Add(field, fmt.Sprintf("unknown permission %q", perm))
		case seen[perm]:
			p.Add(field, fmt.Sprintf("duplicate permission %q", perm))
		}
		seen[perm] = true
	}
	return p.Err()
}

// RollInput is the body of POST /api/integrations/api-keys/{id}/roll.
type RollInput struct {
	// OverlapHours is how long the old key keeps working beside the new
	// one (default 24; 0 ends it now).
	OverlapHours *int `json:"overlapHours"`
}

// Roll bounds.
const (
	MaxRollOverlapHours = 7 * 24
	DefaultRollOverlap  = 24 * time.Hour
)

// Validate checks a roll body.
func (in *RollInput) Validate() error {
	var p validate.Problems
	if in.OverlapHours != nil && (*in.OverlapHours < 0 || *in.OverlapHours > MaxRollOverlapHours) {
		p.Add("overlapHours", fmt.Sprintf("must be a whole number of hours from 0 to %d (7 days)", MaxRollOverlapHours))
	}
	return p.Err()
}

// Overlap is how long the old key keeps working.
func (in RollInput) Overlap() time.Duration {
	if in.OverlapHours == nil {
		return DefaultRollOverlap
	}
	return time.Duration(*in.OverlapHours) * time.Hour
}

// KeyChange is the body of PATCH /api/integrations/api-keys/{id}: the
// restrictions of a working key, changed without a new secret (a key
// running away throttled, an allowlist added after an incident). Its
// permissions are not among them: what a key may do is fixed when it is
// shown, so a different grant is a new key.
type KeyChange struct {
	Name *string `json:"name"`
	// AllowedIPs replaces the allowlist ([]: anywhere).
	AllowedIPs *[]string `json:"allowedIps"`
	// RateLimit replaces the key's own limit (null: only its tenant's).
	RateLimit OptionalLimit `json:"rateLimit"`
}

// OptionalLimit is a rate limit that may be null, and knows whether it was sent.
type OptionalLimit struct {
	Set   bool
	Limit *RateLimit
}

// AcceptsNull marks OptionalLimit as a field that takes null (httpapi.NullAccepter).
func (*OptionalLimit) AcceptsNull() bool { return true }

// UnmarshalJSON takes null or a limit object with nothing else in it.
func (o *OptionalLimit) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(bytes.TrimSpace(b)) == "null" {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var r RateLimit
	if err := d.Decode(&r); err != nil {
		return errors.New(`must be {"requests": n, "per": "second" or "minute"}, or null`)
	}
	o.Limit = &r
	return nil
}

// Validate checks a change.
func (in *KeyChange) Validate() error {
	var p validate.Problems
	if in.Name == nil && in.AllowedIPs == nil && !in.RateLimit.Set {
		p.Add("body", "give at least one of name, allowedIps, rateLimit")
	}
	if in.Name != nil {
		*in.Name = p.Text("name", *in.Name, validate.Line, maxNameLength, true)
	}
	if in.AllowedIPs != nil {
		nets := checkNetworks(&p, "allowedIps", *in.AllowedIPs)
		in.AllowedIPs = &nets
	}
	in.RateLimit.Limit.check(&p, "rateLimit")
	return p.Err()
}
