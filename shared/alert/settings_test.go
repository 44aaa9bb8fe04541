package alert

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/dynamo/dynamotest"
)

func TestSettingsChangeRecordsCatchUpsWhenALeadGrows(t *testing.T) {
	ctx := context.Background()
	s := &SettingsStore{DB: dynamotest.New("t"), Table: "t"}
	st, err := s.Get(ctx, "t1")
	if err != nil || st.Leads != DefaultLeads || st.Revision != 0 {
		t.Fatalf("defaults: %+v %v", st, err)
	}
	st, err = s.Change(ctx, "t1", "owner", now, func(l *Leads) { l.MaintenanceDays, l.DocumentDays = 14, 10 })
	if err != nil {
		t.Fatal(err)
	}
	// Maintenance grew 7 → 14: the dates 7 to 14 days ahead are owed their
	// warning now. Documents shrank 30 → 10: nothing is owed.
	want := Stretch{From: at(7 * day), To: at(14 * day)}
	if st.Revision != 1 || st.MaintenanceDays != 14 || st.DocumentDays != 10 || st.WarrantyDays != 30 || len(st.CatchUps) != 1 || st.CatchUps[Maintenance] != want {
		t.Fatalf("%+v", st)
	}
	got, err := s.Get(ctx, "t1")
	if err != nil || got.Revision != 1 || len(got.CatchUps) != 1 || got.UpdatedBy != "owner" {
		t.Fatalf("stored: %+v %v", got, err)
	}
	// A growth of another group adds its stretch.
	st, err = s.Change(ctx, "t1", "owner", now.Add(time.Hour), func(l *Leads) { l.WarrantyDays = 60 })
	if err != nil || len(st.CatchUps) != 2 || st.CatchUps[Warranty] != (Stretch{From: at(time.Hour + 30*day), To: at(time.Hour + 60*day)}) {
		t.Fatalf("%+v %v", st, err)
	}
	// Growing the same group again, however often, widens its one stretch.
	for i := range 50 {
		days := 15 + i%2*150 // 15, 165, 15, 165...
		if st, err = s.Change(ctx, "t1", "owner", now.Add(2*time.Hour), func(l *Leads) { l.MaintenanceDays = days }); err != nil {
			t.Fatal(err)
		}
	}
	if len(st.CatchUps) != 2 || st.CatchUps[Maintenance] != (Stretch{From: at(7 * day), To: at(2*time.Hour + 165*day)}) {
		t.Fatalf("after 50 changes: %+v", st.CatchUps)
	}
	// A write over a revision another change already replaced is refused.
	stale := st
	stale.Revision = 3
	if err := s.put(ctx, stale, 1); !errors.Is(err, errStale) {
		t.Fatalf("a stale write went through: %v", err)
	}
	all, err := s.All(ctx)
	if err != nil || len(all) != 1 || all["t1"].WarrantyDays != 60 {
		t.Fatalf("all: %+v %v", all, err)
	}
}
