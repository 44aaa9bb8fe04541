package tenant

import (
	"context"
	"testing"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/dynamo/dynamotest"
)

func TestPlansIncludeTheTiersBelow(t *testing.T) {
	plans := []Plan{"", Starter, Growth, Enterprise}
	for i, p := range plans {
		for j, min := range plans[1:] {
			if want := i >= j+1; p.AtLeast(min) != want {
				t.Errorf("%q.AtLeast(%q) = %v", p, min, !want)
			}
		}
	}
	if Plan("platinum").AtLeast(Starter) || Plan("Enterprise").AtLeast(Starter) {
		t.Error("an unknown plan (or a differently cased one) unlocked a tier")
	}
}

func TestValidID(t *testing.T) {
	for _, ok := range []string{"t1", "demo-enterprise", "A_b-9", "x"} {
		if !ValidID(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", "TENANT#x", "a b", "a/b", "é", string(make([]byte, 65))} {
		if ValidID(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestStoreRoundTripAndMissingProfile(t *testing.T) {
	ctx := context.Background()
	s := &Store{DB: dynamotest.New("integrations"), Table: "integrations"}
	if err := s.Put(ctx, Profile{TenantID: "t1", Name: "Acme", Plan: Growth}); err != nil {
		t.Fatal(err)
	}
	p, err := s.Get(ctx, "t1")
	if err != nil || p != (Profile{TenantID: "t1", Name: "Acme", Plan: Growth}) {
		t.Fatalf("%+v %v", p, err)
	}
	// A tenant the main app has not written a profile for has no plan at all.
	p, err = s.Get(ctx, "t2")
	if err != nil || p.TenantID != "t2" || p.Plan.AtLeast(Starter) {
		t.Fatalf("%+v %v", p, err)
	}
	// Batched with another store's read: the same answers.
	var got, missing Profile
	if err := dynamo.GetTogether(ctx, s.DB, "test", s.Read("t1", &got), s.Read("t3", &missing)); err != nil {
		t.Fatal(err)
	}
	if got.Plan != Growth || missing.TenantID != "t3" || missing.Plan != "" {
		t.Fatalf("%+v %+v", got, missing)
	}
}
