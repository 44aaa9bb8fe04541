package apilog

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/uniasset/integrations/shared/cost"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/dynamo/dynamotest"
	"github.com/uniasset/integrations/shared/keyschema"
)

func TestWriteSpreadsOverShardsAndCapsBodies(t *testing.T) {
	ctx := context.Background()
	db := dynamotest.New("t")
	w := &Writer{DB: db, Table: "t", Shards: 4}
	at := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	long := strings.Repeat("a", maxStoredBody-1) + "é" + strings.Repeat("b", 100) // é straddles the cap
	for i := range 40 {
		e := Entry{TenantID: "t1", Method: "POST", Endpoint: "/api/integrations/assets/create", Status: 201, APIKeyID: "key_1", RequestBody: long}
		if err := w.Write(ctx, e, at.Add(time.Duration(i)*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	// Every entry is in one of the tenant's four shards, and in the key's
	// index partition of the same shard.
	var all []Entry
	used := 0
	for shard := range 4 {
		items, err := dynamo.NewestAcrossShards(ctx, db, dynamo.ShardQuery{Table: "t", PKs: []string{keyschema.APILogPK("t1", shard)}, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		byKey, err := dynamo.NewestAcrossShards(ctx, db, dynamo.ShardQuery{Table: "t", Index: dynamotest.Index, PKs: []string{keyschema.APIKeyCallsPK("t1", "key_1", shard)}, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(byKey) != len(items) {
			t.Errorf("shard %d: %d entries, %d in the key's index partition", shard, len(items), len(byKey))
		}
		if len(items) > 0 {
			used++
		}
		for _, it := range items {
			e, _, err := EntryFromItem(it)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, e)
		}
	}
	if len(all) != 40 || used < 2 {
		t.Fatalf("%d entries over %d shards", len(all), used)
	}
	e := all[0]
	if e.ID != strings.ToLower(e.ID) || len(e.ID) != 26 || !strings.HasPrefix(e.Timestamp, "2026-11-22T08:00:00.0") {
		t.Errorf("id %q, timestamp %q", e.ID, e.Timestamp)
	}
	if !utf8.ValidString(e.RequestBody) || !strings.HasSuffix(e.RequestBody, "a…[truncated]") || len(e.RequestBody) > maxStoredBody+len("…[truncated]") {
		t.Errorf("body of %d bytes, ends %q", len(e.RequestBody), e.RequestBody[len(e.RequestBody)-20:])
	}
}

// A row keeps its headers and bodies packed in one attribute, so the row is
// billed (and listed) small; opened, it gives back exactly what was written.
func TestRowsPackTheirBodiesAndReadBack(t *testing.T) {
	ctx := context.Background()
	db := dynamotest.New("t")
	w := &Writer{DB: db, Table: "t", Shards: 1}
	req := `{"name":"Forklift 12 (north hall)","categoryName":"Vehicles","statusName":"In use","externalId":"SAP-100045","serialNumber":"FL-2019-88341","description":"Electric forklift, 2.5 t, yearly inspection by the vendor"}`
	resp := `{"assetId":"01JEXQ8Z5M3N2V7K9R4T6Y8W0B","assetName":"Forklift 12 (north hall)","categoryName":"Vehicles","statusName":"In use","externalId":"SAP-100045","serialNumber":"FL-2019-88341","description":"Electric forklift, 2.5 t, yearly inspection by the vendor","createdAt":"2026-12-06T09:14:03.512Z","updatedAt":"2026-12-06T09:14:03.512Z","version":1}`
	headers := map[string]string{"authorization": "[REDACTED]", "content-type": "application/json", "user-agent": "sap-connector/4.2", "x-forwarded-for": "203.0.113.9"}
	in := Entry{TenantID: "t1", Method: "POST", Endpoint: "/api/integrations/assets/create", Status: 201, APIKeyID: "key_1", RequestHeaders: headers, RequestBody: req, ResponseBody: resp}
	if err := w.Write(ctx, in, time.Now()); err != nil {
		t.Fatal(err)
	}
	items, err := dynamo.NewestAcrossShards(ctx, db, dynamo.ShardQuery{Table: "t", PKs: []string{keyschema.APILogPK("t1", 0)}, Limit: 1})
	if err != nil || len(items) != 1 {
		t.Fatalf("%d rows, %v", len(items), err)
	}
	for _, old := range []string{"requestHeaders", "requestBody", "responseBody"} {
		if _, ok := items[0][old]; ok {
			t.Errorf("the row still stores %s on its own", old)
		}
	}
	// The response repeats the request: packed together with the headers, both take under half their room.
	if got, plain := cost.ValueSize(items[0]["bodies"]), len(req)+len(resp); got*2 >= plain {
		t.Errorf("headers and bodies pack to %d bytes; the bodies alone are %d", got, plain)
	}
	e, _, err := EntryFromItem(items[0])
	if err != nil {
		t.Fatal(err)
	}
	if e.RequestBody != req || e.ResponseBody != resp || !maps.Equal(e.RequestHeaders, headers) {
		t.Fatalf("read back %+v", e)
	}
	// A row written before the packing still reads.
	legacy, _ := attributevalue.MarshalMap(struct {
		RequestBody    string            `dynamodbav:"requestBody"`
		ResponseBody   string            `dynamodbav:"responseBody"`
		RequestHeaders map[string]string `dynamodbav:"requestHeaders"`
	}{req, resp, headers})
	if e, _, err := EntryFromItem(legacy); err != nil || e.RequestBody != req || e.ResponseBody != resp || !maps.Equal(e.RequestHeaders, headers) {
		t.Fatalf("a legacy row read back %+v, %v", e, err)
	}
}
