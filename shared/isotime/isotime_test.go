package isotime

import (
	"slices"
	"testing"
	"time"
)

// Stored timestamps are fixed width in UTC, so comparing strings (as
// DynamoDB conditions and sort keys do) compares times.
func TestFormatSortsAsTimesDo(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	times := []time.Time{
		time.Date(2026, 11, 22, 9, 0, 0, 0, berlin),             // 08:00Z
		time.Date(2026, 11, 22, 8, 0, 0, 1_000_000, time.UTC),   // .001
		time.Date(2026, 11, 22, 8, 0, 0, 999_999_999, time.UTC), // .999 (truncated, not rounded up)
		time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	var formatted []string
	for _, tm := range times {
		s := Format(tm)
		if len(s) != len(Layout) {
			t.Errorf("%s: width %d", s, len(s))
		}
		formatted = append(formatted, s)
	}
	if formatted[0] != "2026-11-22T08:00:00.000Z" || formatted[2] != "2026-11-22T08:00:00.999Z" {
		t.Fatalf("got %v", formatted)
	}
	if !slices.IsSorted(formatted) {
		t.Fatalf("not in time order: %v", formatted)
	}
}

func TestParseAcceptsRFC3339AndReturnsUTC(t *testing.T) {
	for in, want := range map[string]string{
		"2026-11-22T09:00:00+01:00":      "2026-11-22T08:00:00.000Z",
		"2026-11-22T08:00:00Z":           "2026-11-22T08:00:00.000Z",
		"2026-11-22T08:00:00.123456789Z": "2026-11-22T08:00:00.123Z",
	} {
		got, err := Parse(in)
		if err != nil || got.Location() != time.UTC || Format(got) != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "2026-11-22", "2026-11-22 08:00:00Z", "2026-13-01T00:00:00Z", "yesterday",
		"2027-01-01T10:00:00+24:00", "2027-01-01T10:00:00-25:00", "2027-01-01T10:00:00+01:60", "2027-01-01T10:00:00,5Z",
		"2027-01-01T10:00:00.1234567890Z", "2027-01-01T10:00:00.Z", " 2027-01-01T10:00:00Z", "2027-01-01T10:00:00Z\n",
		"2027-01-01t10:00:00z", "+2027-01-01T10:00:00Z", "2027-02-30T10:00:00Z"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
