package apikey

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// countingTable counts the reads Authenticate makes.
type countingTable struct {
	*memTable
	reads atomic.Int64
}

func (c *countingTable) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.reads.Add(1)
	return c.memTable.GetItem(ctx, in, o...)
}

func (c *countingTable) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.reads.Add(1)
	return c.memTable.BatchGetItem(ctx, in, o...)
}

// A flood of random well-formed keys from one address costs the burst's
// reads and then one a refill interval; the excess is refused from memory
// with how long to wait. Another address has its own budget, and a key this
// instance verified before still works from the flooded address.
func TestRandomKeysFromOneSourceCostBoundedReads(t *testing.T) {
	s, plain := benchService(nil, NewCache(100, time.Hour))
	db := &countingTable{memTable: s.Store.DB.(*memTable)}
	s.Store.DB = db
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	s.Sources = NewSources(10)
	s.Sources.Now = func() time.Time { return now }
	ctx := context.Background()
	if _, err := s.Authenticate(ctx, "Bearer "+plain, Caller{IP: "203.0.113.9"}); err != nil {
		t.Fatal(err)
	}
	db.reads.Store(0)

	const flood = 1000
	limited := 0
	for range flood {
		random, _ := Generate()
		_, err := s.Authenticate(ctx, "Bearer "+random, Caller{IP: "203.0.113.9"})
		var ll *LookupsLimited
		switch {
		case errors.As(err, &ll):
			limited++
			if ll.RetryAfter <= 0 || ll.RetryAfter > 6*time.Second {
				t.Fatalf("retry after %v, want one refill interval (6s) at most", ll.RetryAfter)
			}
		case err == nil || err != errUnauthorized:
			t.Fatalf("a random key: %v", err)
		}
	}
	// The 1 before the flood took one of the 10.
	if got := db.reads.Load(); got != 9 || limited != flood-9 {
		t.Fatalf("%d random keys made %d reads (%d refused from memory), want 9 reads", flood, got, limited)
	}
	if _, err := s.Authenticate(ctx, "Bearer "+plain, Caller{IP: "203.0.113.9"}); err != nil {
		t.Fatalf("a verified key from the flooded address: %v", err)
	}
	random, _ := Generate()
	if _, err := s.Authenticate(ctx, "Bearer "+random, Caller{IP: "198.51.100.7"}); err != errUnauthorized {
		t.Fatalf("another address's first unknown key: %v, want 401 after its lookup", err)
	}
	now = now.Add(6 * time.Second)
	if _, err := s.Authenticate(ctx, "Bearer "+random, Caller{IP: "203.0.113.9"}); err != errUnauthorized {
		t.Fatalf("after one refill interval: %v, want a lookup again", err)
	}
}

func TestSourceKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.9":          "203.0.113.9",
		"::ffff:203.0.113.9":   "203.0.113.9", // IPv4-mapped is the IPv4 client
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64", // one /64, one client
		"2001:db8:1:3::1":      "2001:db8:1:3::/64",
		"":                     "",
		"not-an-address":       "not-an-address",
	} {
		if got := sourceKey(in); got != want {
			t.Errorf("sourceKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// The remembered addresses stay bounded: those at rest are forgotten first.
func TestSourcesStayBounded(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	s := NewSources(60)
	s.Now = func() time.Time { return now }
	s.tat = map[string]time.Time{}
	for i := range maxSources {
		s.tat[strconv.Itoa(i)] = now.Add(-time.Second) // at rest
	}
	s.tat["busy"] = now.Add(time.Minute)
	delete(s.tat, "0")
	if ok, _ := s.take("203.0.113.1"); !ok {
		t.Fatal("refused a new address")
	}
	if len(s.tat) != 2 || s.tat["busy"].IsZero() {
		t.Fatalf("%d remembered after a full map, want the busy one and the new one", len(s.tat))
	}
}
