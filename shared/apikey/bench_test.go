package apikey

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/crypto/bcrypt"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/tenant"
)

// memTable answers the three calls Authenticate makes from memory, so the
// benchmark measures verification (hashing, cache, decoding), not a network.
type memTable struct {
	dynamo.API // other methods are not called here
	items      map[string]map[string]types.AttributeValue
}

func pk(k map[string]types.AttributeValue) string {
	return k["PK"].(*types.AttributeValueMemberS).Value + "|" + k["SK"].(*types.AttributeValueMemberS).Value
}

func (m *memTable) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{Item: m.items[pk(in.Key)]}, nil
}

func (m *memTable) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	out := map[string][]map[string]types.AttributeValue{}
	for table, ka := range in.RequestItems {
		for _, k := range ka.Keys {
			if it, ok := m.items[pk(k)]; ok {
				out[table] = append(out[table], it)
			}
		}
	}
	return &dynamodb.BatchGetItemOutput{Responses: out}, nil
}

func (m *memTable) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return &dynamodb.UpdateItemOutput{}, nil
}

// benchService stores one key of cost 10 (the production default) and returns it.
func benchService(_ testing.TB, cache *Cache) (*Service, string) {
	plain, _ := Generate()
	hash, _ := bcrypt.GenerateFromPassword([]byte(plain), bcrypt.DefaultCost)
	k := Key{TenantID: "t1", ID: "key_1", Name: "bench", Prefix: DisplayPrefix(plain), Lookup: LookupID(plain), Hash: string(hash),
		Permissions: Permissions, CreatedAt: "2026-01-01T00:00:00.000Z", LastUsedAt: "2999-01-01T00:00:00.000Z"}
	m := &memTable{items: map[string]map[string]types.AttributeValue{}}
	keyItem, _ := attributevalue.MarshalMap(k)
	for n, v := range keyKey("t1", "key_1") {
		keyItem[n] = v
	}
	m.items[pk(keyKey("t1", "key_1"))] = keyItem
	li, _ := attributevalue.MarshalMap(lookupItem{TenantID: "t1", KeyID: "key_1"})
	for n, v := range lookupKey(k.Lookup) {
		li[n] = v
	}
	m.items[pk(lookupKey(k.Lookup))] = li
	prof, _ := attributevalue.MarshalMap(tenant.Profile{TenantID: "t1", Plan: tenant.Enterprise})
	for n, v := range keyschema.Profile("t1").Attrs() {
		prof[n] = v
	}
	m.items[pk(keyschema.Profile("t1").Attrs())] = prof
	return &Service{Store: &Store{DB: m, Table: "t"}, LastUsedInterval: time.Minute, Cache: cache}, plain
}

func BenchmarkAuthenticateUncached(b *testing.B) {
	s, plain := benchService(b, nil)
	header := "Bearer " + plain
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Authenticate(ctx, header, Caller{IP: ""}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuthenticateCached(b *testing.B) {
	s, plain := benchService(b, NewCache(1000, time.Hour))
	header := "Bearer " + plain
	ctx := context.Background()
	if _, err := s.Authenticate(ctx, header, Caller{IP: ""}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Authenticate(ctx, header, Caller{IP: ""}); err != nil {
			b.Fatal(err)
		}
	}
}

// The fake must agree with the real store on what a good key is, or the benchmark measures nothing.
func TestBenchFakeAuthenticates(t *testing.T) {
	s, plain := benchService(&testing.B{}, NewCache(10, time.Hour))
	p, err := s.Authenticate(context.Background(), "Bearer "+plain, Caller{IP: ""})
	if err != nil || p.Key.ID != "key_1" || p.Profile.Plan != tenant.Enterprise {
		t.Fatalf("%+v %v", p, err)
	}
	last := "0"
	if plain[71] == '0' {
		last = "1"
	}
	if _, err := s.Authenticate(context.Background(), "Bearer "+plain[:71]+last, Caller{IP: ""}); err == nil {
		t.Fatal("a wrong key authenticated")
	}
}
