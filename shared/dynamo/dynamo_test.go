package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/uniasset/integrations/shared/apierror"
)

func TestTranslate(t *testing.T) {
	throttled := Translate("op", &smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException"})
	if e, ok := apierror.From(throttled); !ok || e.Code != apierror.Throttled {
		t.Fatalf("throttling became %v", throttled)
	}
	other := Translate("op", errors.New("boom"))
	if _, ok := apierror.From(other); ok {
		t.Fatal("an unexpected error was shown to the client")
	}
	if Translate("op", nil) != nil {
		t.Fatal("nil became an error")
	}
}

func TestConditionFailedAndCancelledAt(t *testing.T) {
	if !ConditionFailed(&types.ConditionalCheckFailedException{}) {
		t.Fatal("plain conditional failure missed")
	}
	tce := &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{{Code: aws.String("None")}, {Code: aws.String("ConditionalCheckFailed")}}}
	if !ConditionFailed(tce) {
		t.Fatal("conditional failure inside a transaction missed")
	}
	if got := CancelledAt(tce); len(got) != 2 || got[0] || !got[1] {
		t.Fatalf("CancelledAt = %v", got)
	}
	if ConditionFailed(errors.New("x")) || CancelledAt(errors.New("x")) != nil {
		t.Fatal("unrelated error read as a condition failure")
	}
}

// shardFake answers Query from per-partition sort keys (newest last), like a
// table whose items are ordered by SK.
type shardFake struct {
	API
	mu      sync.Mutex
	queries []string
	parts   map[string][]string
	fail    string
}

func (f *shardFake) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	pk := in.ExpressionAttributeValues[":pk"].(*types.AttributeValueMemberS).Value
	f.mu.Lock()
	f.queries = append(f.queries, pk)
	f.mu.Unlock()
	if pk == f.fail {
		return nil, &smithy.GenericAPIError{Code: "ThrottlingException"}
	}
	before := "\xff"
	if b, ok := in.ExpressionAttributeValues[":before"]; ok {
		before = b.(*types.AttributeValueMemberS).Value
	}
	out := &dynamodb.QueryOutput{}
	sks := f.parts[pk]
	for i := len(sks) - 1; i >= 0 && len(out.Items) < int(*in.Limit); i-- {
		if sks[i] < before {
			out.Items = append(out.Items, map[string]types.AttributeValue{"SK": &types.AttributeValueMemberS{Value: sks[i]}})
		}
	}
	return out, nil
}

func TestNewestAcrossShards(t *testing.T) {
	f := &shardFake{parts: map[string][]string{
		"s0": {"01", "04", "05", "09"},
		"s1": {"02", "03", "07"},
		"s2": {"06", "08"},
	}}
	q := ShardQuery{Table: "t", PKs: []string{"s0", "s1", "s2"}, Limit: 4}
	sks := func(items []map[string]types.AttributeValue) string {
		var out []string
		for _, it := range items {
			out = append(out, SK(it))
		}
		return strings.Join(out, ",")
	}
	items, err := NewestAcrossShards(context.Background(), f, q)
	if err != nil {
		t.Fatal(err)
	}
	if got := sks(items); got != "09,08,07,06" {
		t.Fatalf("first page %s", got)
	}
	if len(f.queries) != 3 {
		t.Fatalf("%d queries for 3 shards", len(f.queries))
	}
	q.Before = "06"
	items, _ = NewestAcrossShards(context.Background(), f, q)
	if got := sks(items); got != "05,04,03,02" {
		t.Fatalf("second page %s", got)
	}
	f.fail = "s1"
	if _, err := NewestAcrossShards(context.Background(), f, q); err == nil {
		t.Fatal("a failed shard was dropped silently")
	} else if e, ok := apierror.From(err); !ok || e.Code != apierror.Throttled {
		t.Fatalf("throttled shard became %v", err)
	}
}

// Exhaustion reads the same wherever it shows: a throttled call, a
// transaction cancelled because a partition was throttled, a batch whose keys
// stay unprocessed.
func TestExhaustionIsThrottledEverywhere(t *testing.T) {
	code := func(err error) apierror.Code { e, _ := apierror.From(err); return e.Code }
	cancelled := &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{{Code: aws.String("None")}, {Code: aws.String("ThrottlingError")}}}
	if got := code(Translate("op", cancelled)); got != apierror.Throttled {
		t.Errorf("a transaction cancelled for throttling: %s", got)
	}
	for _, c := range []string{"ThrottlingException", "RequestLimitExceeded", "ProvisionedThroughputExceededException"} {
		if got := code(Translate("op", &smithy.GenericAPIError{Code: c})); got != apierror.Throttled {
			t.Errorf("%s: %s", c, got)
		}
	}
	db := &unprocessed{}
	err := GetTogether(context.Background(), db, "read", Read{Table: "t", Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "p"}, "SK": &types.AttributeValueMemberS{Value: "s"}}, Found: func(map[string]types.AttributeValue) error { return nil }})
	if code(err) != apierror.Throttled || db.calls != batchTries {
		t.Errorf("keys left unprocessed: %v after %d calls", err, db.calls)
	}
}

// unprocessed is a DynamoDB that never gets round to any key.
type unprocessed struct {
	API
	calls int
}

func (u *unprocessed) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	u.calls++
	return &dynamodb.BatchGetItemOutput{UnprocessedKeys: in.RequestItems}, nil
}

func TestGetTogetherRefusesKeysItCannotTellApart(t *testing.T) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	none := func(map[string]types.AttributeValue) error { return nil }
	key := map[string]types.AttributeValue{"PK": s("p"), "SK": s("s")}
	for name, reads := range map[string][]Read{
		"the same key twice": {{Table: "t", Key: key, Found: none}, {Table: "t", Key: key, Found: none}},
		"a number key":       {{Table: "t", Key: map[string]types.AttributeValue{"PK": s("p"), "SK": &types.AttributeValueMemberN{Value: "1"}}, Found: none}},
	} {
		if err := GetTogether(context.Background(), &unprocessed{}, "read", reads...); err == nil || strings.Contains(err.Error(), "busy") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Refused tells a single write's refused condition, however wrapped, with
// the item it met, from anything else (a transaction's cancellation too).
func TestRefusedCarriesTheItemItMet(t *testing.T) {
	met := map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "7"}}
	cases := []struct {
		name    string
		err     error
		refused bool
		item    bool
	}{
		{"none", nil, false, false},
		{"with the item", &types.ConditionalCheckFailedException{Item: met}, true, true},
		{"wrapped, no item asked for", fmt.Errorf("put: %w", &types.ConditionalCheckFailedException{}), true, false},
		{"a cancelled transaction", &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{{Code: aws.String("ConditionalCheckFailed")}}}, false, false},
		{"throttled", errors.New("throttled"), false, false},
	}
	for _, c := range cases {
		item, ok := Refused(c.err)
		if ok != c.refused || (item != nil) != c.item {
			t.Errorf("%s: Refused = %v, %v", c.name, item, ok)
		}
	}
}
