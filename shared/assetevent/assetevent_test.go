package assetevent

import (
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uniasset/integrations/shared/keyschema"
)

func s(v string) events.DynamoDBAttributeValue { return events.NewStringAttribute(v) }

func assetImage(extra map[string]events.DynamoDBAttributeValue) map[string]events.DynamoDBAttributeValue {
	m := map[string]events.DynamoDBAttributeValue{
		"PK": s(keyschema.AssetPK("t1", "a1")), "SK": s(keyschema.AssetSK), "assetId": s("a1"), "assetName": s("Forklift"),
		"categoryName": s("Vehicles"), "statusName": s("ACTIVE"), "version": events.NewNumberAttribute("1"),
		"createdAt": s("2026-01-01T00:00:00.000Z"), "updatedAt": s("2026-01-02T00:00:00.000Z"),
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func record(name, sk string, old, cur map[string]events.DynamoDBAttributeValue) events.DynamoDBEventRecord {
	return events.DynamoDBEventRecord{EventID: "e1", EventName: name, Change: events.DynamoDBStreamRecord{
		Keys: map[string]events.DynamoDBAttributeValue{"PK": s(keyschema.AssetPK("t1", "a1")), "SK": s(sk)}, OldImage: old, NewImage: cur,
	}}
}

func names(t *testing.T, r events.DynamoDBEventRecord) []string {
	t.Helper()
	c, err := ChangeOf(r)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := Events(c)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if e.TenantID != "t1" || e.SourceID != "e1" {
			t.Fatalf("event %+v lost its tenant or source", e)
		}
		out = append(out, e.Name)
	}
	return out
}

// maint is a maintenance record's image, with changes.
func maint(with map[string]events.DynamoDBAttributeValue) map[string]events.DynamoDBAttributeValue {
	m := map[string]events.DynamoDBAttributeValue{"maintenanceId": s("m1"), "assetId": s("a1"), "title": s("Oil"), "status": s("scheduled"), "createdAt": s("2026-01-01T00:00:00.000Z")}
	for k, v := range with {
		m[k] = v
	}
	return m
}

func TestEvents(t *testing.T) {
	geo := events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{
		"latitude": events.NewNumberAttribute("1"), "longitude": events.NewNumberAttribute("2"), "recordedAt": s("2026-01-02T00:00:00.000Z"),
	})
	cases := []struct {
		name string
		rec  events.DynamoDBEventRecord
		want string
	}{
		{"insert", record("INSERT", "ASSET", nil, assetImage(nil)), "asset.created"},
		{"status change", record("MODIFY", "ASSET", assetImage(nil), assetImage(map[string]events.DynamoDBAttributeValue{"statusName": s("BROKEN")})), "asset.updated"},
		{"assignment only", record("MODIFY", "ASSET", assetImage(nil), assetImage(map[string]events.DynamoDBAttributeValue{"assignedUserId": s("u1")})), "asset.assigned"},
		{"position only", record("MODIFY", "ASSET", assetImage(nil), assetImage(map[string]events.DynamoDBAttributeValue{"geoPosition": geo})), "geo_position.updated"},
		{"assignment and name", record("MODIFY", "ASSET", assetImage(nil), assetImage(map[string]events.DynamoDBAttributeValue{"assignedUserId": s("u1"), "assetName": s("X")})), "asset.assigned,asset.updated"},
		{"version bump only", record("MODIFY", "ASSET", assetImage(nil), assetImage(map[string]events.DynamoDBAttributeValue{"version": events.NewNumberAttribute("2")})), ""},
		{"maintenance", record("INSERT", "MAINT#m1", nil, map[string]events.DynamoDBAttributeValue{"maintenanceId": s("m1"), "assetId": s("a1"), "title": s("Oil"), "status": s("scheduled"), "createdAt": s("2026-01-01T00:00:00.000Z")}), "maintenance.created"},
		{"incident", record("INSERT", "INCIDENT#i1", nil, map[string]events.DynamoDBAttributeValue{"title": s("Dent")}), "incident.created"},
		{"removal", record("REMOVE", "ASSET", assetImage(nil), nil), "asset.deleted"},
		{"maintenance removed", record("REMOVE", "MAINT#m1", maint(nil), nil), ""},
		{"maintenance performed", record("MODIFY", "MAINT#m1", maint(nil), maint(map[string]events.DynamoDBAttributeValue{"performedAt": s("2026-01-03T00:00:00.000Z")})), "maintenance.completed"},
		{"maintenance retitled", record("MODIFY", "MAINT#m1", maint(nil), maint(map[string]events.DynamoDBAttributeValue{"title": s("Oil and filter")})), ""},
		{"performed again", record("MODIFY", "MAINT#m1", maint(map[string]events.DynamoDBAttributeValue{"performedAt": s("2026-01-02T00:00:00.000Z")}),
			maint(map[string]events.DynamoDBAttributeValue{"performedAt": s("2026-01-03T00:00:00.000Z")})), ""},
		{"externalId claim", events.DynamoDBEventRecord{EventID: "e1", EventName: "INSERT", Change: events.DynamoDBStreamRecord{Keys: map[string]events.DynamoDBAttributeValue{"PK": s(keyschema.ExternalID("t1", "X").PK), "SK": s(keyschema.ExternalID("t1", "X").SK)}}}, ""},
	}
	for _, c := range cases {
		got := ""
		for i, n := range names(t, c.rec) {
			if i > 0 {
				got += ","
			}
			got += n
		}
		if got != c.want {
			t.Errorf("%s: events %q, want %q", c.name, got, c.want)
		}
	}
}
