package apilog

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

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
		var es []Entry
		if err := attributevalue.UnmarshalListOfMaps(items, &es); err != nil {
			t.Fatal(err)
		}
		all = append(all, es...)
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
