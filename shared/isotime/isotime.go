// Package isotime formats timestamps the one way the system stores and returns
// them: UTC, millisecond precision, fixed width, so strings sort as times do and
// DynamoDB conditions can compare them.
package isotime

import (
	"errors"
	"regexp"
	"time"
)

// Layout is ISO 8601 with milliseconds and a Z suffix, as in the webhook spec.
const Layout = "2006-01-02T15:04:05.000Z"

// Format renders t in Layout.
func Format(t time.Time) string { return t.UTC().Format(Layout) }

// rfc3339 is RFC 3339's date-time, fraction of at most nanoseconds: Go's
// parser also takes a comma before the fraction, any number of its digits
// and offsets of 24 hours and more, none of which RFC 3339 allows.
var rfc3339 = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$`)

// Parse accepts any RFC 3339 time (with or without fraction or offset) and returns it in UTC.
func Parse(s string) (time.Time, error) {
	if !rfc3339.MatchString(s) {
		return time.Time{}, errors.New("not an RFC 3339 time")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err
}
