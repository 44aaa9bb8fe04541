package alert

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/dynamo/dynamotest"
	"github.com/uniasset/integrations/shared/keyschema"
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

// A tenant's settings item that does not decode is left out of All (the
// others are read) and read as the defaults for its alerts, while Get, for
// the owner's view and changes, still reports it.
func TestUndecodableSettingsFallBackToTheDefaultsForAlerts(t *testing.T) {
	ctx := context.Background()
	db := dynamotest.New("t")
	s := &SettingsStore{DB: db, Table: "t"}
	if _, err := s.Change(ctx, "good", "owner", now, func(l *Leads) { l.WarrantyDays = 1 }); err != nil {
		t.Fatal(err)
	}
	bad := keyschema.AlertSettings("odd").Attrs()
	bad["tenantId"], bad["warrantyDays"] = &types.AttributeValueMemberS{Value: "odd"}, &types.AttributeValueMemberS{Value: "thirty"}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t"), Item: bad}); err != nil {
		t.Fatal(err)
	}
	all, err := s.All(ctx)
	if _, odd := all["odd"]; err != nil || len(all) != 1 || all["good"].WarrantyDays != 1 || odd {
		t.Fatalf("All: %+v %v", all, err)
	}
	if st, err := s.ForAlerts(ctx, "odd"); err != nil || st.Leads != DefaultLeads {
		t.Fatalf("ForAlerts: %+v %v", st, err)
	}
	if _, err := s.Get(ctx, "odd"); err == nil {
		t.Fatal("Get read an item that does not decode")
	}
	if st, err := s.ForAlerts(ctx, "good"); err != nil || st.WarrantyDays != 1 {
		t.Fatalf("ForAlerts of a readable tenant: %+v %v", st, err)
	}
}
