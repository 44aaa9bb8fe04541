// Package isotime formats timestamps the one way the system stores and returns
// them: UTC, millisecond precision, fixed width, so strings sort as times do and
// DynamoDB conditions can compare them.
package isotime

import "time"

// Layout is ISO 8601 with milliseconds and a Z suffix, as in the webhook spec.
const Layout = "2006-01-02T15:04:05.000Z"

// Format renders t in Layout.
func Format(t time.Time) string { return t.UTC().Format(Layout) }

// Parse accepts any RFC 3339 time (with or without fraction or offset) and returns it in UTC.
func Parse(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err
}
