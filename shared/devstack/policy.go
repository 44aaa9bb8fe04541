package devstack

import (
	"fmt"
	"slices"
	"strings"
)

// Policy is an IAM identity policy as template.yaml writes it, with every
// intrinsic resolved to the local ARNs.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one policy statement. Only the elements the template uses are
// supported; anything else is refused when the policy is read, so a new kind
// of statement cannot be silently ignored by the local check.
type Statement struct {
	Sid       string                         `json:"Sid,omitempty"`
	Effect    string                         `json:"Effect"`
	Action    []string                       `json:"Action"`
	Resource  []string                       `json:"Resource"`
	Condition map[string]map[string][]string `json:"Condition,omitempty"`
}

// Request is one authorization question, as IAM asks it for one API call (a
// transaction asks one per item): may this principal do Action on Resource,
// given the request's condition keys (for DynamoDB: dynamodb:LeadingKeys)?
type Request struct {
	Action   string
	Resource string
	Keys     map[string][]string
}

func (r Request) String() string {
	s := r.Action + " on " + r.Resource
	if lk := r.Keys["dynamodb:LeadingKeys"]; len(lk) > 0 {
		s += " (dynamodb:LeadingKeys " + strings.Join(lk, ", ") + ")"
	}
	return s
}

// conditionOps are the operators the local check evaluates.
var conditionOps = []string{"StringEquals", "StringLike"}

// Validate refuses what the local check cannot evaluate faithfully.
func (p Policy) Validate() error {
	for i, s := range p.Statement {
		if s.Effect != "Allow" && s.Effect != "Deny" {
			return fmt.Errorf("statement %d: Effect %q", i, s.Effect)
		}
		if len(s.Action) == 0 || len(s.Resource) == 0 {
			return fmt.Errorf("statement %d: Action and Resource are required (NotAction/NotResource are not supported locally)", i)
		}
		for op := range s.Condition {
			base := op
			if _, rest, ok := strings.Cut(op, ":"); ok && (strings.HasPrefix(op, "ForAllValues:") || strings.HasPrefix(op, "ForAnyValue:")) {
				base = rest
			}
			if !slices.Contains(conditionOps, base) {
				return fmt.Errorf("statement %d: condition operator %s is not supported by the local policy check", i, op)
			}
		}
	}
	return nil
}

// Allows evaluates r as IAM does for one identity policy: an explicit Deny
// wins, otherwise some Allow must match; no match is an implicit deny.
func (p Policy) Allows(r Request) bool {
	allowed := false
	for _, s := range p.Statement {
		if !s.matches(r) {
			continue
		}
		if s.Effect == "Deny" {
			return false
		}
		allowed = true
	}
	return allowed
}

func (s Statement) matches(r Request) bool {
	if !slices.ContainsFunc(s.Action, func(a string) bool { return wildcardMatch(strings.ToLower(a), strings.ToLower(r.Action)) }) {
		return false
	}
	if !slices.ContainsFunc(s.Resource, func(p string) bool { return wildcardMatch(p, r.Resource) }) {
		return false
	}
	for op, keys := range s.Condition {
		for key, want := range keys {
			if !condition(op, want, r.Keys[key]) {
				return false
			}
		}
	}
	return true
}

// condition applies one operator. ForAllValues holds when every request value
// matches some policy value (and so holds for no values at all, as in IAM);
// ForAnyValue when at least one does; a plain operator needs the key present
// and all its values to match.
func condition(op string, want, have []string) bool {
	set, base, _ := strings.Cut(op, ":")
	if base == "" {
		set, base = "", op
	}
	match := func(v string) bool {
		return slices.ContainsFunc(want, func(w string) bool {
			if base == "StringLike" {
				return wildcardMatch(w, v)
			}
			return w == v
		})
	}
	switch set {
	case "ForAllValues":
		return !slices.ContainsFunc(have, func(v string) bool { return !match(v) })
	case "ForAnyValue":
		return slices.ContainsFunc(have, match)
	default:
		return len(have) > 0 && !slices.ContainsFunc(have, func(v string) bool { return !match(v) })
	}
}

// wildcardMatch is IAM's glob: * matches any run of characters, ? one character.
func wildcardMatch(pattern, s string) bool {
	p, v := []rune(pattern), []rune(s)
	star, mark := -1, 0
	i, j := 0, 0
	for j < len(v) {
		switch {
		case i < len(p) && p[i] == '*': // before a literal match, so a '*' in the value cannot pin it
			star, mark = i, j
			i++
		case i < len(p) && (p[i] == '?' || p[i] == v[j]):
			i++
			j++
		case star >= 0:
			i = star + 1
			mark++
			j = mark
		default:
			return false
		}
	}
	for i < len(p) && p[i] == '*' {
		i++
	}
	return i == len(p)
}

// policyFromTemplate reads one inline policy document of the template (its
// intrinsics already resolved to strings) into a Policy.
func policyFromTemplate(doc map[string]any) (Policy, error) {
	p := Policy{Version: fmt.Sprint(doc["Version"])}
	stmts, ok := doc["Statement"].([]any)
	if !ok {
		return Policy{}, fmt.Errorf("policy without a Statement list")
	}
	for i, raw := range stmts {
		m, ok := raw.(map[string]any)
		if !ok {
			return Policy{}, fmt.Errorf("statement %d is not a mapping", i)
		}
		for k := range m {
			if !slices.Contains([]string{"Sid", "Effect", "Action", "Resource", "Condition"}, k) {
				return Policy{}, fmt.Errorf("statement %d: %s is not supported locally", i, k)
			}
		}
		s := Statement{Effect: fmt.Sprint(m["Effect"]), Action: stringList(m["Action"]), Resource: stringList(m["Resource"])}
		if sid, ok := m["Sid"].(string); ok {
			s.Sid = sid
		}
		if cond, ok := m["Condition"].(map[string]any); ok {
			s.Condition = map[string]map[string][]string{}
			for op, keys := range cond {
				km, _ := keys.(map[string]any)
				s.Condition[op] = map[string][]string{}
				for k, v := range km {
					s.Condition[op][k] = stringList(v)
				}
			}
		}
		p.Statement = append(p.Statement, s)
	}
	return p, p.Validate()
}

func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	case []string:
		return x
	}
	return nil
}
