package alert

import (
	"slices"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/keyschema"
)

var now = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

func at(d time.Duration) string {
	return now.Add(d).UTC().Format("2006-01-02T15:04:05.000Z")
}

const day = 24 * time.Hour

func TestEntriesOfEachItem(t *testing.T) {
	pk := keyschema.AssetPK("t1", "a1")
	cases := []struct {
		name string
		img  asset.Dates
		want []Kind
	}{
		{"asset without dates", asset.Dates{PK: pk, SK: "ASSET"}, nil},
		{"warranty", asset.Dates{PK: pk, SK: "ASSET", WarrantyExpiresAt: at(day)}, []Kind{WarrantyKind}},
		{"document asset with warranty", asset.Dates{PK: pk, SK: "ASSET", Type: "document", ExpiresAt: at(day), WarrantyExpiresAt: at(day)}, []Kind{DocumentAssetKind, WarrantyKind}},
		{"document asset typed with a capital", asset.Dates{PK: pk, SK: "ASSET", Type: "Document", ExpiresAt: at(day)}, []Kind{DocumentAssetKind}},
		{"expiresAt on a non-document asset", asset.Dates{PK: pk, SK: "ASSET", Type: "vehicle", ExpiresAt: at(day)}, nil},
		{"maintenance due", asset.Dates{PK: pk, SK: "MAINT#m1", DueAt: at(day)}, []Kind{MaintenanceKind}},
		{"maintenance performed", asset.Dates{PK: pk, SK: "MAINT#m1", DueAt: at(day), PerformedAt: at(-day)}, nil},
		{"linked document", asset.Dates{PK: pk, SK: "DOC#d1", ExpiresAt: at(day)}, []Kind{DocumentKind}},
		{"incident", asset.Dates{PK: pk, SK: "INCIDENT#i1", ExpiresAt: at(day)}, nil},
		{"not an asset partition", asset.Dates{PK: "TENANT#t1", SK: "ASSET", WarrantyExpiresAt: at(day)}, nil},
		{"unreadable date", asset.Dates{PK: pk, SK: "DOC#d1", ExpiresAt: "soon"}, nil},
	}
	for _, c := range cases {
		var got []Kind
		for _, e := range Entries(c.img) {
			got = append(got, e.Kind)
			if e.TenantID != "t1" || e.AssetID != "a1" || e.ItemPK != pk || e.ItemSK != c.img.SK {
				t.Errorf("%s: entry %+v", c.name, e)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestMilestonesAndWhenTheyAreDue(t *testing.T) {
	leads := Leads{MaintenanceDays: 7, DocumentDays: 30, WarrantyDays: 14}
	cases := []struct {
		name  string
		kind  Kind
		due   time.Duration // the date, from now
		fired []string      // milestones due now
	}{
		{"maintenance in 8 days", MaintenanceKind, 8 * day, nil},
		{"maintenance in 7 days", MaintenanceKind, 7 * day, []string{"maintenance.due_soon"}},
		{"maintenance in 1 hour", MaintenanceKind, time.Hour, []string{"maintenance.due_soon"}},
		{"maintenance due now", MaintenanceKind, 0, []string{"maintenance.overdue"}},
		{"maintenance 29 days overdue", MaintenanceKind, -29 * day, []string{"maintenance.overdue"}},
		{"maintenance 31 days overdue (history)", MaintenanceKind, -31 * day, nil},
		{"document in 30 days", DocumentKind, 30 * day, []string{"document.expiring"}},
		{"document in 31 days", DocumentKind, 31 * day, nil},
		{"document asset expired yesterday", DocumentAssetKind, -day, []string{"document_asset.expired"}},
		{"warranty in 14 days (its own lead)", WarrantyKind, 14 * day, []string{"warranty.expiring"}},
		{"warranty in 15 days", WarrantyKind, 15 * day, nil},
		{"warranty ended: nothing (no expired event)", WarrantyKind, -day, nil},
	}
	// A date set well before it passed: a pass catching up after it passed
	// fires the warning too, as it would have fired in time.
	caught := Entry{Kind: MaintenanceKind, DueAt: at(-day), IndexedAt: at(-20 * day)}
	var both []string
	for _, m := range Milestones(caught, leads) {
		if m.Due(now) {
			both = append(both, m.Event)
		}
	}
	if !slices.Equal(both, []string{"maintenance.due_soon", "maintenance.overdue"}) {
		t.Errorf("catching up on a date set in time: %v", both)
	}
	for _, c := range cases {
		var got []string
		for _, m := range Milestones(Entry{Kind: c.kind, DueAt: at(c.due)}, leads) {
			if m.Due(now) {
				got = append(got, m.Event)
			}
		}
		if !slices.Equal(got, c.fired) {
			t.Errorf("%s: %v, want %v", c.name, got, c.fired)
		}
	}
}

func TestDaysRemaining(t *testing.T) {
	// now is 08:00 UTC: calendar days, not 24-hour spans.
	for d, want := range map[time.Duration]int{
		30 * day: 30, 30*day - 8*time.Hour - time.Second: 29, 16*time.Hour - time.Second: 0, 16 * time.Hour: 1,
		0: 0, -8 * time.Hour: 0, -8*time.Hour - time.Second: -1, -day: -1, -day - 8*time.Hour - time.Second: -2,
	} {
		if got := DaysRemaining(at(d), now); got != want {
			t.Errorf("%s: %d, want %d", d, got, want)
		}
	}
}

// A pass over (from, to] reads, per group, one window per lead time in use
// (dates whose warning falls in the pass) and one for dates passing.
func TestCrossings(t *testing.T) {
	from, to := now.Add(-time.Hour), now
	ws := Crossings(from, to, map[Group][]time.Duration{
		Maintenance: {7 * day, 7 * day, 3 * day},
		Document:    {30 * day},
		Warranty:    {30 * day},
	})
	type w struct {
		g    Group
		lead time.Duration
	}
	var got []w
	for _, x := range ws {
		got = append(got, w{x.Group, x.Lead})
		if !x.From.Equal(from.Add(x.Lead)) || !x.To.Equal(to.Add(x.Lead)) {
			t.Errorf("%+v: not the pass shifted by its lead", x)
		}
	}
	want := []w{{Maintenance, 3 * day}, {Maintenance, 7 * day}, {Maintenance, 0}, {Document, 30 * day}, {Document, 0}, {Warranty, 30 * day}}
	if !slices.Equal(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
	if Crossings(now, now, nil) != nil {
		t.Error("an empty pass reads something")
	}
	span := Window{From: time.Date(2026, 11, 21, 23, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)}
	if got := span.Days(); !slices.Equal(got, []string{"2026-11-21", "2026-11-22", "2026-11-23"}) {
		t.Errorf("days %v", got)
	}
}

func TestCouldBeDue(t *testing.T) {
	for d, want := range map[time.Duration]bool{-day: true, 0: true, MaxLeadDays * day: true, MaxLeadDays*day + time.Second: false} {
		if got := couldBeDue(Entry{DueAt: at(d)}, now); got != want {
			t.Errorf("a date %s ahead: %v", d, got)
		}
	}
}
