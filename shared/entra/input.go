package entra

import (
	"slices"
	"strconv"
	"strings"

	"github.com/uniasset/integrations/shared/tenant"
	"github.com/uniasset/integrations/shared/validate"
)

// MappingsInput is the body of PUT /api/integrations/entra/mappings: the whole set.
type MappingsInput struct {
	Mappings []struct {
		GroupID string      `json:"groupId"`
		Role    tenant.Role `json:"role"`
	} `json:"mappings"`
}

func (in *MappingsInput) Validate() error {
	var p validate.Problems
	if in.Mappings == nil {
		p.Add("mappings", "is required (an empty list removes every mapping)")
	}
	if len(in.Mappings) > MaxMappings {
		p.Add("mappings", "at most "+strconv.Itoa(MaxMappings)+" groups can be mapped")
		return p.Err()
	}
	seen := map[string]bool{}
	for i, m := range in.Mappings {
		f := "mappings[" + strconv.Itoa(i) + "]"
		if !ValidGUID(m.GroupID) {
			p.Add(f+".groupId", "must be a group's object id (a GUID)")
		} else if seen[strings.ToLower(m.GroupID)] {
			p.Add(f+".groupId", "is mapped twice")
		}
		seen[strings.ToLower(m.GroupID)] = true
		if !slices.Contains(Roles, m.Role) {
			p.Add(f+".role", "must be Owner, Admin, Member or Viewer")
		}
	}
	return p.Err()
}

// SettingsInput is the body of PATCH /api/integrations/entra/settings: any of the options.
type SettingsInput struct {
	AutoProvision   *bool `json:"autoProvision"`
	DeprovisionSync *bool `json:"deprovisionSync"`
	Threshold       *struct {
		Percent *Whole `json:"percent"`
		Count   *Whole `json:"count"`
	} `json:"deprovisionThreshold"`
}

// Whole is a whole number written as any JSON number with no fraction.
type Whole int

func (n *Whole) UnmarshalJSON(b []byte) error {
	v, err := validate.Whole(b, "must be a whole number")
	*n = Whole(v)
	return err
}

func (in *SettingsInput) Validate() error {
	var p validate.Problems
	if in.AutoProvision == nil && in.DeprovisionSync == nil && in.Threshold == nil {
		p.Add("body", "give at least one of autoProvision, deprovisionSync, deprovisionThreshold")
	}
	if t := in.Threshold; t != nil {
		if t.Percent == nil && t.Count == nil {
			p.Add("deprovisionThreshold", "give percent, count or both")
		}
		if t.Percent != nil && (*t.Percent < 0 || *t.Percent > 100) {
			p.Add("deprovisionThreshold.percent", "must be a whole number from 0 to 100")
		}
		if t.Count != nil && (*t.Count < 0 || *t.Count > MaxThresholdCount) {
			p.Add("deprovisionThreshold.count", "must be a whole number from 0 to "+strconv.Itoa(MaxThresholdCount))
		}
	}
	return p.Err()
}

// Apply is st with the given options changed.
func (in *SettingsInput) Apply(st Settings) Settings {
	if in.AutoProvision != nil {
		st.AutoProvision = *in.AutoProvision
	}
	if in.DeprovisionSync != nil {
		st.DeprovisionSync = *in.DeprovisionSync
	}
	if t := in.Threshold; t != nil {
		if t.Percent != nil {
			st.Threshold.Percent = int(*t.Percent)
		}
		if t.Count != nil {
			st.Threshold.Count = int(*t.Count)
		}
	}
	return st
}

// ApprovalInput is the body of POST /api/integrations/entra/approvals: the held set the Owner reviewed.
type ApprovalInput struct {
	Digest string `json:"digest"`
}

func (in *ApprovalInput) Validate() error {
	var p validate.Problems
	if len(in.Digest) != 16 || strings.Trim(in.Digest, "0123456789abcdef") != "" {
		p.Add("digest", "must be the held removals' digest, as GET /api/integrations/entra shows it")
	}
	return p.Err()
}
