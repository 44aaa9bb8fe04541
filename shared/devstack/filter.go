package devstack

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// EventFilter is an event source mapping's FilterCriteria: Lambda passes a
// record to the function only if some pattern matches it, and drops the rest
// as handled. The local pollers apply the template's patterns, so a record
// the template filters out never reaches a function here either (and one it
// lets through is not silently missed: a pattern this code does not
// understand fails the stack's start rather than matching loosely).
//
// The patterns supported are the ones event filtering documents for
// literals: a field's value is an array of alternatives, each a string, a
// number, a boolean or {"prefix": "..."}; an object pattern matches fields
// of an object, all of them.
type EventFilter []map[string]any

// parseFilter reads a DynamoDB or SQS event's FilterCriteria property.
func parseFilter(props map[string]any) (EventFilter, error) {
	fc, _ := props["FilterCriteria"].(map[string]any)
	list, _ := fc["Filters"].([]any)
	var out EventFilter
	for _, f := range list {
		raw, _ := f.(map[string]any)["Pattern"].(string)
		var p map[string]any
		if err := json.Unmarshal([]byte(raw), &p); err != nil {
			return nil, fmt.Errorf("filter pattern %q: %w", raw, err)
		}
		if err := checkPattern(p); err != nil {
			return nil, fmt.Errorf("filter pattern %q: %w", raw, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func checkPattern(p map[string]any) error {
	for field, v := range p {
		switch v := v.(type) {
		case map[string]any:
			if err := checkPattern(v); err != nil {
				return err
			}
		case []any:
			for _, alt := range v {
				switch alt := alt.(type) {
				case string, float64, bool:
				case map[string]any:
					if _, ok := alt["prefix"].(string); !ok || len(alt) != 1 {
						return fmt.Errorf("%s: only {\"prefix\": \"...\"} is supported locally, not %v", field, alt)
					}
				default:
					return fmt.Errorf("%s: unsupported alternative %v", field, alt)
				}
			}
		default:
			return fmt.Errorf("%s: a pattern's value must be an object or an array", field)
		}
	}
	return nil
}

// Passes reports whether Lambda would pass the record to the function: no
// filter, or one of its patterns matches the record's JSON form.
func (f EventFilter) Passes(rec events.DynamoDBEventRecord) bool {
	if len(f) == 0 {
		return true
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		return true // the handler sees what it would have seen unfiltered
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return true
	}
	for _, p := range f {
		if matchObject(p, doc) {
			return true
		}
	}
	return false
}

func matchObject(p map[string]any, doc map[string]any) bool {
	for field, want := range p {
		got, present := doc[field]
		if !present {
			return false
		}
		switch want := want.(type) {
		case map[string]any:
			sub, ok := got.(map[string]any)
			if !ok || !matchObject(want, sub) {
				return false
			}
		case []any:
			if !matchAny(want, got) {
				return false
			}
		}
	}
	return true
}

func matchAny(alts []any, got any) bool {
	for _, alt := range alts {
		switch alt := alt.(type) {
		case map[string]any:
			s, ok := got.(string)
			if ok && strings.HasPrefix(s, alt["prefix"].(string)) {
				return true
			}
		default:
			if alt == got {
				return true
			}
		}
	}
	return false
}
