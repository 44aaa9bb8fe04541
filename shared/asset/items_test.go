package asset

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/dynamo/dynamotest"
	"github.com/uniasset/integrations/shared/keyschema"
)

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// Watched dates are read as stored; one of another type reads as absent.
func TestDatesOf(t *testing.T) {
	item := keyschema.Maintenance("t1", "a1", "m1").Attrs()
	item["dueAt"], item["performedAt"] = s("2030-01-01T00:00:00.000Z"), &types.AttributeValueMemberN{Value: "5"}
	d := DatesOf(item)
	if d.PK != "TENANT#t1#ASSET#a1" || d.SK != "MAINT#m1" || d.DueAt != "2030-01-01T00:00:00.000Z" || d.PerformedAt != "" {
		t.Fatalf("%+v", d)
	}
}

// An incident carries the main app's attributes, not the table's keys.
func TestIncidentFromItem(t *testing.T) {
	item := keyschema.Key{PK: "TENANT#t1#ASSET#a1", SK: "INCIDENT#i1"}.Attrs()
	item["entity"], item["tenantId"], item["severity"], item[keyschema.ByResourcePK] = s("incident"), s("t1"), s("high"), s("x")
	got := incidentFromItem("a1", "i1", item)
	if fmt.Sprint(got) != fmt.Sprint(map[string]any{"assetId": "a1", "incidentId": "i1", "severity": "high"}) {
		t.Fatalf("%v", got)
	}
}

func TestChangedFields(t *testing.T) {
	name := "New"
	a := Asset{AssetName: "Old", StatusName: "A"}
	b := Asset{AssetName: name, StatusName: "A", Type: &name}
	if got := ChangedFields(a, b); !slices.Equal(got, []string{"assetName", "type"}) {
		t.Fatalf("%v", got)
	}
	if got := ChangedFields(a, a); len(got) != 0 {
		t.Fatalf("%v", got)
	}
}

// An asset's item is read consistently, nil once gone; many items are read
// together, the missing ones absent.
func TestItemsReads(t *testing.T) {
	ctx := context.Background()
	db := dynamotest.New("assets")
	r := &Items{DB: db, Table: "assets"}
	if item, err := r.Asset(ctx, "t1", "a1"); err != nil || item != nil {
		t.Fatalf("no asset: %v %v", item, err)
	}
	var keys []keyschema.Key
	for i := range 130 { // two batches
		k := keyschema.Asset("t1", fmt.Sprintf("a%d", i))
		keys = append(keys, k)
		if i%2 == 0 {
			if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("assets"), Item: k.Attrs()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if item, err := r.Asset(ctx, "t1", "a0"); err != nil || item == nil {
		t.Fatalf("an asset: %v %v", item, err)
	}
	got, err := r.Many(ctx, "read", keys)
	if err != nil || len(got) != 65 || got[keys[128]] == nil || got[keys[1]] != nil {
		t.Fatalf("%d items, %v", len(got), err)
	}
}

// An item is decoded once to its dates and the typed value of its kind; a
// value that does not decode is nil with its reason, the dates still read.
func TestDecode(t *testing.T) {
	if Decode(nil) != nil || Decode(nil).WatchedDates() != (Dates{}) {
		t.Fatal("no item decodes to nil, with no dates")
	}
	a := keyschema.Asset("t1", "a1").Attrs()
	a["assetId"], a["assetName"], a["warrantyExpiresAt"] = s("a1"), s("Crane"), s("2030-01-01T00:00:00.000Z")
	if it := Decode(a); it.Asset == nil || it.Asset.AssetName != "Crane" || it.Dates.WarrantyExpiresAt == "" || it.Err != nil {
		t.Fatalf("asset: %+v", it)
	}
	a["assetName"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}} // the main app wrote a map
	if it := Decode(a); it.Asset != nil || it.Err == nil || it.Dates.WarrantyExpiresAt == "" {
		t.Fatalf("an undecodable asset: %+v", it)
	}
	m := keyschema.Maintenance("t1", "a1", "m1").Attrs()
	m["maintenanceId"], m["dueAt"] = s("m1"), s("2030-01-01T00:00:00.000Z")
	if it := Decode(m); it.Maintenance == nil || it.Maintenance.MaintenanceID != "m1" || it.Asset != nil {
		t.Fatalf("maintenance: %+v", it)
	}
	d := keyschema.Document("t1", "a1", "d1").Attrs()
	d["documentId"] = s("d1")
	if it := Decode(d); it.Document == nil || it.Document.DocumentID != "d1" {
		t.Fatalf("document: %+v", it)
	}
	i := keyschema.Key{PK: keyschema.AssetPK("t1", "a1"), SK: keyschema.IncidentPrefix + "i1"}.Attrs()
	if it := Decode(i); it.Incident["incidentId"] != "i1" || it.Incident["assetId"] != "a1" {
		t.Fatalf("incident: %+v", it)
	}
}
