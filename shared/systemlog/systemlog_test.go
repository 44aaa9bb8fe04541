package systemlog

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/dynamo/dynamotest"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/retention"
)

// Entries land in the tenant's system partition in time order, and the
// ByResource index finds the ones about one webhook.
func TestItemsAreFoundByTenantAndByResource(t *testing.T) {
	ctx := context.Background()
	db := dynamotest.New("t")
	at := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	for i, e := range []Entry{
		{TenantID: "t1", Event: WebhookFailing, ResourceType: "webhook", ResourceID: "wh_a", Status: "failing", Details: "HTTP 500"},
		{TenantID: "t1", Event: WebhookFailing, ResourceType: "webhook", ResourceID: "wh_b", Status: "failing"},
		{TenantID: "t1", Event: WebhookRecovered, ResourceType: "webhook", ResourceID: "wh_a", Status: "healthy"},
		{TenantID: "t2", Event: WebhookFailing, ResourceType: "webhook", ResourceID: "wh_a", Status: "failing"},
	} {
		item, err := Item(e, at.Add(time.Duration(i)*time.Second), retention.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t"), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	read := func(q dynamo.ShardQuery) []Entry {
		t.Helper()
		q.Table, q.Limit = "t", 10
		items, err := dynamo.NewestAcrossShards(ctx, db, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []Entry
		if err := attributevalue.UnmarshalListOfMaps(items, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	all := read(dynamo.ShardQuery{PKs: []string{keyschema.SystemPK("t1")}})
	if len(all) != 3 || all[0].Event != WebhookRecovered || all[2].Details != "HTTP 500" || all[0].Timestamp != "2026-11-22T08:00:02.000Z" {
		t.Fatalf("tenant's entries, newest first: %+v", all)
	}
	about := read(dynamo.ShardQuery{Index: dynamotest.Index, PKs: []string{keyschema.ResourceSystemPK("t1", "webhook", "wh_a")}})
	if len(about) != 2 || about[0].ResourceID != "wh_a" || about[1].ResourceID != "wh_a" {
		t.Fatalf("wh_a's entries: %+v", about)
	}
	if all[0].ID == all[1].ID || all[0].ID < all[1].ID {
		t.Fatalf("ids do not sort by time: %s, %s", all[0].ID, all[1].ID)
	}
}

// With a retention, an entry carries the table's TTL attribute: its time
// plus the days, in epoch seconds; without one, none.
func TestItemExpiry(t *testing.T) {
	at := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	item, err := Item(Entry{TenantID: "t1", Event: WebhookFailing}, at, retention.Policy{Days: 30})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ExpiresAt int64 `dynamodbav:"expiresAt"`
	}
	if err := attributevalue.UnmarshalMap(item, &got); err != nil || got.ExpiresAt != at.Add(30*24*time.Hour).Unix() {
		t.Fatalf("expiresAt %d, %v", got.ExpiresAt, err)
	}
	kept, _ := Item(Entry{TenantID: "t1", Event: WebhookFailing}, at, retention.Policy{})
	if _, ok := kept[retention.Attribute]; ok {
		t.Fatal("an entry kept for ever has a TTL")
	}
}
