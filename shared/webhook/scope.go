package webhook

import (
	"fmt"
	"slices"
	"strings"

	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/validate"
)

// Scope limits a webhook to part of its tenant's assets (UniFi's "apply to
// sites"): an event is sent only if its asset's value is in each set given.
// Category names and types are the customer's words, compared without
// regard to case; department ids are ids, compared exactly. An asset with
// no department (or no type) matches no departmentId (or type) set.
type Scope struct {
	CategoryNames []string `json:"categoryName,omitempty" dynamodbav:"categoryNames,stringset,omitempty"`
	DepartmentIDs []string `json:"departmentId,omitempty" dynamodbav:"departmentIds,stringset,omitempty"`
	Types         []string `json:"type,omitempty" dynamodbav:"types,stringset,omitempty"`
}

// Scope bounds.
const (
	maxScopeValues = 50
	maxScopeValue  = 200
)

// Empty reports whether s limits nothing.
func (s *Scope) Empty() bool {
	return s == nil || len(s.CategoryNames)+len(s.DepartmentIDs)+len(s.Types) == 0
}

// Matches reports whether an event about a (nil: its asset is not known,
// deleted before the event was routed, say) is in s. An empty scope
// matches everything; any other matches no unknown asset.
func (s *Scope) Matches(a *asset.Asset) bool {
	if s.Empty() {
		return true
	}
	if a == nil {
		return false
	}
	fold := func(set []string, v string) bool {
		return slices.ContainsFunc(set, func(x string) bool { return strings.EqualFold(x, v) })
	}
	if len(s.CategoryNames) > 0 && !fold(s.CategoryNames, a.CategoryName) {
		return false
	}
	if len(s.DepartmentIDs) > 0 && (a.Assignment.DepartmentID == nil || !slices.Contains(s.DepartmentIDs, *a.Assignment.DepartmentID)) {
		return false
	}
	if len(s.Types) > 0 && (a.Type == nil || !fold(s.Types, *a.Type)) {
		return false
	}
	return true
}

// check validates s in place (values trimmed) under field.
func (s *Scope) check(p *validate.Problems, field string) {
	set := func(name string, values []string, fold bool) []string {
		f := field + "." + name
		if values == nil {
			return nil
		}
		if len(values) == 0 || len(values) > maxScopeValues {
			p.Add(f, fmt.Sprintf("give 1 to %d values, or leave it out", maxScopeValues))
			return nil
		}
		out := make([]string, 0, len(values))
		for i, v := range values {
			v = p.Text(fmt.Sprintf("%s[%d]", f, i), v, validate.Line, maxScopeValue, true)
			if slices.ContainsFunc(out, func(x string) bool { return x == v || (fold && strings.EqualFold(x, v)) }) {
				p.Add(fmt.Sprintf("%s[%d]", f, i), fmt.Sprintf("duplicate value %q", v))
				continue
			}
			out = append(out, v)
		}
		return out
	}
	s.CategoryNames = set("categoryName", s.CategoryNames, true)
	s.DepartmentIDs = set("departmentId", s.DepartmentIDs, false)
	s.Types = set("type", s.Types, true)
}
