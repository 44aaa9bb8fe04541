// Package retention is how long the Activity Log's records are kept: API
// call rows, delivery records and System entries carry IntegrationsTable's
// TTL attribute when a retention is set (RECORD_RETENTION_DAYS, the
// template's RecordRetentionDays). The spec promises older records stay in
// the database, so the default keeps them.
package retention

import "time"

// Attribute is IntegrationsTable's TTL attribute (epoch seconds).
const Attribute = "expiresAt"

// Policy is a retention in days; 0 keeps records for ever.
type Policy struct{ Days int }

// ExpiresAt is when a record written at is deleted, in epoch seconds; 0
// (no attribute: omitempty) when records are kept.
func (p Policy) ExpiresAt(at time.Time) int64 {
	if p.Days <= 0 {
		return 0
	}
	return at.Add(time.Duration(p.Days) * 24 * time.Hour).Unix()
}
