package alert

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/dynamo/dynamotest"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/webhook"
)

// subscriptions counts the lists a pass asks for; no tenant has a webhook.
type subscriptions struct {
	mu    sync.Mutex
	calls map[string]int
}

func (s *subscriptions) ListReadable(_ context.Context, tenantID string) ([]webhook.Webhook, []webhook.Unreadable, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[tenantID]++
	return nil, nil, nil
}

// watermarkless takes a pass's watermark writes (a conditional update the
// in-memory table does not model; moto proves them) as done.
type watermarkless struct{ *dynamotest.Table }

func (w watermarkless) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if sk, _ := in.Key["SK"].(*types.AttributeValueMemberS); sk != nil && sk.Value == keyschema.AlertWatermark().SK {
		return &dynamodb.UpdateItemOutput{}, nil
	}
	return w.Table.UpdateItem(ctx, in, o...)
}

// A pass lists each tenant's webhooks once, however many chunks its
// candidates span, also when the tenant has none (an empty list is a list).
func TestAPassListsEachTenantOnce(t *testing.T) {
	ctx := context.Background()
	db := dynamotest.New("t")
	index := &Index{DB: db, Table: "t", Shards: IndexShards}
	const tenants, each = 3, 150 // 450 candidates: three chunks
	due := time.Date(2031, 3, 2, 0, 0, 0, 0, time.UTC)
	for n := range tenants * each {
		tid, id := fmt.Sprintf("t%d", n%tenants), fmt.Sprintf("asset_%04d", n)
		item := keyschema.Asset(tid, id).Attrs()
		for k, v := range map[string]string{"entity": "asset", "tenantId": tid, "assetId": id, "assetName": "Crane " + id, "categoryName": "M", "statusName": "A",
			"createdAt": "2030-01-01T00:00:00.000Z", "updatedAt": "2030-01-01T00:00:00.000Z", "warrantyExpiresAt": isotime.Format(due.Add(time.Duration(n+1) * time.Second))} {
			item[k] = &types.AttributeValueMemberS{Value: v}
		}
		item["version"] = &types.AttributeValueMemberN{Value: "1"}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t"), Item: item}); err != nil {
			t.Fatal(err)
		}
		if err := index.Apply(ctx, nil, Entries(asset.DatesOf(item)), due.Add(-60*day)); err != nil {
			t.Fatal(err)
		}
	}
	subs := &subscriptions{calls: map[string]int{}}
	p := &Pass{Index: index, Settings: &SettingsStore{DB: db, Table: "t"}, Watermark: Watermark{DB: watermarkless{db}, Table: "t"}, Items: &asset.Items{DB: db, Table: "t"}, Webhooks: subs,
		Firer: &Firer{DB: db, Table: "t"}, Retries: &Retries{DB: db, Table: "t"}, Now: time.Now}
	// Warranties warn 30 days ahead: a pass over the day before and after
	// the first warning meets every one.
	r, err := p.Run(ctx, due.Add(-30*day+time.Hour+PassLag))
	if err != nil || r.Candidates != tenants*each {
		t.Fatalf("pass %+v: %v", r, err)
	}
	for n := range tenants {
		if c := subs.calls[fmt.Sprintf("t%d", n)]; c != 1 {
			t.Errorf("tenant t%d listed %d times, want once", n, c)
		}
	}
}

// An index entry or a kept alert that does not decode (our own record in
// another shape) is left out and counted: the others are read, so every
// other tenant's pass goes on.
func TestUndecodableIndexEntriesAndRetriesAreSkipped(t *testing.T) {
	ctx := context.Background()
	db := dynamotest.New("t")
	index := &Index{DB: db, Table: "t", Shards: 1}
	retries := &Retries{DB: db, Table: "t"}
	due := "2031-03-02T00:00:00.000Z"
	good := Entry{TenantID: "t1", AssetID: "a1", Kind: WarrantyKind, ItemPK: keyschema.Asset("t1", "a1").PK, ItemSK: keyschema.AssetSK, DueAt: due}
	if err := index.Apply(ctx, nil, []Entry{good}, time.Now()); err != nil {
		t.Fatal(err)
	}
	kept := must(attributevalue.MarshalMap(Retry{Entry: good, Attempts: 1, Reason: "test"}))
	maps.Copy(kept, retries.key(good).Attrs())
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t"), Item: kept}); err != nil {
		t.Fatal(err)
	}
	bad := good
	bad.AssetID, bad.ItemPK = "a2", keyschema.Asset("t1", "a2").PK
	for _, item := range []map[string]types.AttributeValue{must(index.Item(bad)), retries.key(bad).Attrs()} {
		item["dueAt"] = &types.AttributeValueMemberBOOL{Value: true} // a boolean where a date belongs
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t"), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	from, _ := isotime.Parse("2031-03-01T00:00:00.000Z")
	es, err := index.Between(ctx, Window{Group: Warranty, From: from, To: from.Add(2 * day)})
	if err != nil || len(es) != 1 || es[0].AssetID != "a1" {
		t.Fatalf("index: %+v %v", es, err)
	}
	all, err := retries.All(ctx)
	if err != nil || len(all) != 1 || all[0].AssetID != "a1" {
		t.Fatalf("kept: %+v %v", all, err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
