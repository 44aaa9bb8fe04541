// Package alert is the expiry alerts. This file is the pure core: which dates
// of which items are watched, when each of their milestones fires, and which
// stretch of dates a pass must look at; the other files store settings and
// the due-date index and run a pass on top of it.
//
// Each watched date has up to two milestones: a warning a lead time before it
// (maintenance.due_soon, document.expiring, document_asset.expiring,
// warranty.expiring) and the date itself (maintenance.overdue,
// document.expired, document_asset.expired). A milestone fires once per
// (item, event, date): moving the date re-arms it.
package alert

import (
	"slices"
	"strings"
	"time"

	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
)

// Group is a family of watched dates sharing one lead time per tenant.
type Group string

const (
	Maintenance Group = "maintenance" // a maintenance record's dueAt, until performed
	Document    Group = "document"    // a linked document's or a document asset's expiresAt
	Warranty    Group = "warranty"    // an asset's warrantyExpiresAt
)

// Groups lists every group, in the order the settings show them.
var Groups = []Group{Maintenance, Document, Warranty}

// Kind is what a watched date belongs to; it names the events.
type Kind string

const (
	MaintenanceKind   Kind = "maintenance"
	DocumentKind      Kind = "document"
	DocumentAssetKind Kind = "document_asset"
	WarrantyKind      Kind = "warranty"
)

// Group is the lead-time family of the kind.
func (k Kind) Group() Group {
	switch k {
	case MaintenanceKind:
		return Maintenance
	case DocumentKind, DocumentAssetKind:
		return Document
	}
	return Warranty
}

// Events of each kind: the warning, then the date itself ("" when the kind has none).
func (k Kind) Events() (warning, passed string) {
	switch k {
	case MaintenanceKind:
		return "maintenance.due_soon", "maintenance.overdue"
	case DocumentKind:
		return "document.expiring", "document.expired"
	case DocumentAssetKind:
		return "document_asset.expiring", "document_asset.expired"
	}
	return "warranty.expiring", ""
}

// Events is every alert event, as the webhook catalogue names them.
var Events = []string{
	"maintenance.due_soon", "maintenance.overdue", "document.expiring", "document.expired",
	"document_asset.expiring", "document_asset.expired", "warranty.expiring",
}

// IsEvent reports whether name is an alert event.
func IsEvent(name string) bool { return slices.Contains(Events, name) }

// Leads are a tenant's lead times, in days, per group.
type Leads struct {
	MaintenanceDays int `json:"maintenanceDays" dynamodbav:"maintenanceDays"`
	DocumentDays    int `json:"documentDays" dynamodbav:"documentDays"`
	WarrantyDays    int `json:"warrantyDays" dynamodbav:"warrantyDays"`
}

// DefaultLeads: maintenance 7 days; documents, document assets and warranties 30.
var DefaultLeads = Leads{MaintenanceDays: 7, DocumentDays: 30, WarrantyDays: 30}

// MinLeadDays and MaxLeadDays bound a lead time.
const MinLeadDays, MaxLeadDays = 1, 180

// Days is the lead time of group g.
func (l Leads) Days(g Group) int {
	switch g {
	case Maintenance:
		return l.MaintenanceDays
	case Document:
		return l.DocumentDays
	}
	return l.WarrantyDays
}

// Lead is the lead time of group g as a duration.
func (l Leads) Lead(g Group) time.Duration { return time.Duration(l.Days(g)) * 24 * time.Hour }

// MaxLateness is how long after its time a milestone may still fire: a pass
// catches up on an outage this long, and an item written with a date further
// in the past is history, not news (no alert).
const MaxLateness = 30 * 24 * time.Hour

// Entry is one watched date of one item: what the due-date index holds.
type Entry struct {
	TenantID string `dynamodbav:"tenantId"`
	AssetID  string `dynamodbav:"assetId"`
	Kind     Kind   `dynamodbav:"kind"`
	ItemPK   string `dynamodbav:"itemPK"`
	ItemSK   string `dynamodbav:"itemSK"`
	DueAt    string `dynamodbav:"dueAt"` // isotime
	// IndexedAt is when the date was set (or moved) as the index saw it: a
	// date already passed then never had a "soon" (isotime; "" is now).
	IndexedAt string `dynamodbav:"indexedAt"`
}

// Same reports whether x is the same watched date of the same item as e.
func (e Entry) Same(x Entry) bool { return e.ID() == x.ID() && e.DueAt == x.DueAt }

// ID names the entry's item and kind (one item can have two watched dates).
func (e Entry) ID() string { return string(e.Kind) + "#" + e.ItemPK + "#" + e.ItemSK }

// Milestone is one alert an entry can raise.
type Milestone struct {
	Entry
	Event  string
	FireAt time.Time
}

// Milestones are the entry's alerts under the tenant's lead times.
func Milestones(e Entry, leads Leads) []Milestone {
	due, err := isotime.Parse(e.DueAt)
	if err != nil {
		return nil
	}
	warning, passed := e.Kind.Events()
	out := []Milestone{{Entry: e, Event: warning, FireAt: due.Add(-leads.Lead(e.Kind.Group()))}}
	if passed != "" {
		out = append(out, Milestone{Entry: e, Event: passed, FireAt: due})
	}
	return out
}

// Due reports whether m should fire at now: its time has come, not more than
// MaxLateness ago. A warning counts only if its date was still ahead when
// the date was set: a maintenance record written already overdue was never
// "due soon". A pass catching up on days without a run fires both of a date
// that passed in them, as each would have fired on time.
func (m Milestone) Due(now time.Time) bool {
	if m.FireAt.After(now) || now.Sub(m.FireAt) > MaxLateness {
		return false
	}
	if isWarning(m.Event) {
		due, err := isotime.Parse(m.DueAt)
		indexed := now
		if m.IndexedAt != "" {
			indexed, _ = isotime.Parse(m.IndexedAt)
		}
		return err == nil && indexed.Before(due)
	}
	return true
}

func isWarning(event string) bool {
	return strings.HasSuffix(event, ".due_soon") || strings.HasSuffix(event, ".expiring")
}

// DaysRemaining is how many calendar days (UTC) the date is after today: 0
// on the day itself, negative once it has passed.
func DaysRemaining(dueAt string, now time.Time) int {
	due, err := isotime.Parse(dueAt)
	if err != nil {
		return 0
	}
	day := 24 * time.Hour
	return int(due.Truncate(day).Sub(now.UTC().Truncate(day)) / day)
}

// Entries are the watched dates of an item (none for an item of another
// kind, or one without the dates).
func Entries(img asset.Dates) []Entry {
	tenantID, assetID, ok := keyschema.ParseAssetPK(img.PK)
	if !ok {
		return nil
	}
	entry := func(k Kind, at string) Entry {
		return Entry{TenantID: tenantID, AssetID: assetID, Kind: k, ItemPK: img.PK, ItemSK: img.SK, DueAt: at}
	}
	valid := func(at string) bool { _, err := isotime.Parse(at); return at != "" && err == nil }
	var out []Entry
	switch {
	case img.SK == keyschema.AssetSK:
		if asset.IsDocumentType(img.Type) && valid(img.ExpiresAt) {
			out = append(out, entry(DocumentAssetKind, img.ExpiresAt))
		}
		if valid(img.WarrantyExpiresAt) {
			out = append(out, entry(WarrantyKind, img.WarrantyExpiresAt))
		}
	case strings.HasPrefix(img.SK, keyschema.MaintenancePrefix):
		if img.PerformedAt == "" && valid(img.DueAt) {
			out = append(out, entry(MaintenanceKind, img.DueAt))
		}
	case strings.HasPrefix(img.SK, keyschema.DocumentPrefix):
		if valid(img.ExpiresAt) {
			out = append(out, entry(DocumentKind, img.ExpiresAt))
		}
	}
	return out
}

// Window is a stretch of dates (From, To] of one group a pass looks at.
type Window struct {
	Group    Group
	From, To time.Time
	// Lead is the lead time whose warnings cross in this window; 0 for the
	// dates themselves passing.
	Lead time.Duration
}

// Crossings are the windows a pass over (from, to] reads: for each group and
// each lead time in use, the dates whose warning time falls in (from, to];
// and for each group with a date event, the dates that pass in it.
func Crossings(from, to time.Time, leads map[Group][]time.Duration) []Window {
	if !to.After(from) {
		return nil
	}
	var out []Window
	for _, g := range Groups {
		in := slices.Clone(leads[g])
		slices.Sort(in)
		for _, l := range slices.Compact(in) {
			out = append(out, Window{Group: g, From: from.Add(l), To: to.Add(l), Lead: l})
		}
		if g != Warranty {
			out = append(out, Window{Group: g, From: from, To: to})
		}
	}
	return out
}

// Days lists the UTC days (yyyy-mm-dd) the window touches.
func (w Window) Days() []string {
	var out []string
	first := w.From.UTC().Truncate(24 * time.Hour)
	for d := first; !d.After(w.To); d = d.Add(24 * time.Hour) {
		out = append(out, d.Format(time.DateOnly))
	}
	return out
}
