package ratelimit

import (
	"context"
	"strconv"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

// Burst events pass at once; the next waits one interval; after a rest the
// burst is whole again.
func TestAdmitBurstThenRate(t *testing.T) {
	l := Limit{Every: 100 * time.Millisecond, Burst: 3, Shards: 1}
	now := t0
	m := &Memory{Now: func() time.Time { return now }}
	key := Key{"t1", "API"}
	for i := range 3 {
		if ok, _, _ := Admit(context.Background(), m, key, l, now); !ok {
			t.Fatalf("event %d of the burst refused", i)
		}
	}
	ok, wait, _ := Admit(context.Background(), m, key, l, now)
	if ok || wait != 100*time.Millisecond {
		t.Fatalf("4th at once: ok=%v wait=%v, want refused for 100ms", ok, wait)
	}
	now = now.Add(wait)
	if ok, _, _ := Admit(context.Background(), m, key, l, now); !ok {
		t.Fatal("refused after waiting the Retry-After it was given")
	}
	if ok, _, _ := Admit(context.Background(), m, key, l, now); ok {
		t.Fatal("two admitted one interval after the burst")
	}
	now = now.Add(time.Second)
	for i := range 3 {
		if ok, _, _ := Admit(context.Background(), m, key, l, now); !ok {
			t.Fatalf("after a rest, event %d of the burst refused", i)
		}
	}
}

// Over any stretch, no more than burst + stretch/every events are admitted
// however they arrive (no window edge lets twice the rate through).
func TestAdmitNeverExceedsTheRate(t *testing.T) {
	l := Limit{Every: 50 * time.Millisecond, Burst: 5, Shards: 1}
	now := t0
	m := &Memory{Now: func() time.Time { return now }}
	var admitted []time.Time
	for i := range 2000 {
		now = t0.Add(time.Duration(i) * 7 * time.Millisecond)
		if ok, _, _ := Admit(context.Background(), m, Key{"t", "x"}, l, now); ok {
			admitted = append(admitted, now)
		}
	}
	for i := range admitted {
		for j := i; j < len(admitted); j++ {
			span := admitted[j].Sub(admitted[i])
			if allowed := l.Burst + int(span/l.Every); j-i+1 > allowed {
				t.Fatalf("%d events within %v, at most %d allowed", j-i+1, span, allowed)
			}
		}
	}
	if got, want := len(admitted), int(2000*7*time.Millisecond/l.Every); got < want {
		t.Fatalf("admitted %d, the rate allows about %d", got, want)
	}
}

// Reservations queue events one interval apart up to the horizon; past it
// nothing is taken and the caller learns when to ask again.
func TestReserveQueuesUpToTheHorizon(t *testing.T) {
	l := Limit{Every: time.Second, Burst: 1, Shards: 1}
	m := &Memory{Now: func() time.Time { return t0 }}
	key := Key{"t1", "SEND#wh"}
	for i := range 5 {
		ok, start, _ := m.Reserve(context.Background(), key, l, 4*time.Second)
		if !ok || !start.Equal(t0.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("reservation %d: ok=%v start=%v, want %v", i, ok, start.Sub(t0), time.Duration(i)*time.Second)
		}
	}
	ok, again, _ := m.Reserve(context.Background(), key, l, 4*time.Second)
	if ok || !again.Equal(t0.Add(time.Second)) {
		t.Fatalf("past the horizon: ok=%v ask again at %v, want refused, at +1s", ok, again.Sub(t0))
	}
}

// A hold (a receiver's Retry-After) makes every shard wait until then.
func TestHoldDelaysEveryShard(t *testing.T) {
	l := PerSecond(1000, 1)
	if l.Shards != 4 {
		t.Fatalf("1000/s over %d shards, want 4 of at most %d/s", l.Shards, MaxItemRate)
	}
	m := &Memory{Now: func() time.Time { return t0 }}
	key := Key{"t1", "SEND#wh"}
	until := t0.Add(30 * time.Second)
	if err := m.Hold(context.Background(), key, l, until); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		ok, wait, _ := Admit(context.Background(), m, key, l, t0)
		if ok || wait != 30*time.Second {
			t.Fatalf("during a hold: ok=%v retry after %v, want refused for 30s", ok, wait)
		}
	}
}

func TestPerSecond(t *testing.T) {
	for _, c := range []struct {
		rate   float64
		shards int
		every  time.Duration
	}{{1, 1, time.Second}, {50, 1, 20 * time.Millisecond}, {250, 1, 4 * time.Millisecond}, {251, 2, time.Second / 251}, {0.5, 1, 2 * time.Second}} {
		l := PerSecond(c.rate, 1)
		if l.Shards != c.shards || l.Every != c.every {
			t.Errorf("PerSecond(%v) = %+v, want %d shards every %v", c.rate, l, c.shards, c.every)
		}
	}
}

// A share takes its slot in the same decision as its outer limit: its own
// burst spent, it refuses (and says so) while the outer limit has room;
// the outer limit spent by others, the share's requests are refused too;
// a refused request takes a slot of neither.
func TestShareWithinItsOuterLimit(t *testing.T) {
	ctx := context.Background()
	now := t0
	m := &Memory{Now: func() time.Time { return now }}
	tenant := Key{"t1", "API"}
	outer := Limit{Every: 100 * time.Millisecond, Burst: 5, Shards: 1}
	key := Share{ID: "key_a", Limit: Limit{Every: time.Second, Burst: 2}}
	for i := range 2 {
		if ok, _, _, _ := AdmitShare(ctx, m, tenant, outer, key, now); !ok {
			t.Fatalf("request %d within the key's burst refused", i)
		}
	}
	ok, byShare, wait, _ := AdmitShare(ctx, m, tenant, outer, key, now)
	if ok || !byShare || wait != time.Second {
		t.Fatalf("3rd at once: ok=%v byShare=%v wait=%v, want refused by the key for 1s", ok, byShare, wait)
	}
	// The refusal took nothing of the tenant's: 3 of its burst of 5 remain.
	for i := range 3 {
		if ok, _, _ := Admit(ctx, m, tenant, outer, now); !ok {
			t.Fatalf("tenant request %d refused: the key's refusal took a tenant slot", i)
		}
	}
	now = now.Add(time.Second) // the key has a slot again; the tenant has 10 again (capped at its burst 5)
	for range 5 {
		if ok, _, _ := Admit(ctx, m, tenant, outer, now); !ok {
			t.Fatal("tenant burst refused after a rest")
		}
	}
	ok, byShare, wait, _ = AdmitShare(ctx, m, tenant, outer, key, now)
	if ok || byShare || wait != 100*time.Millisecond {
		t.Fatalf("tenant spent: ok=%v byShare=%v wait=%v, want refused by the tenant for 100ms", ok, byShare, wait)
	}
	// That refusal took nothing of the key's either.
	now = now.Add(100 * time.Millisecond)
	if ok, _, _, _ := AdmitShare(ctx, m, tenant, outer, key, now); !ok {
		t.Fatal("refused after the tenant's Retry-After")
	}
}

// A share lives on as many of its outer limit's shards as its rate needs,
// so neither it nor its outer limit is capped by where it lives, and no
// item takes more than MaxItemRate writes a second.
func TestSharePlacement(t *testing.T) {
	outer := PerSecond(1000, 2000) // 4 shards of 250/s
	for _, c := range []struct {
		rate  float64
		count int
	}{{1, 1}, {10, 1}, {250, 1}, {251, 2}, {600, 3}, {1000, 4}, {5000, 4}, {1.0 / 60, 1}} {
		s := Share{ID: "key_x", Limit: Limit{Every: time.Duration(float64(time.Second) / c.rate), Burst: 1}}
		first, count, l := s.place(outer)
		if count != c.count || l.Shards != count || first < 0 || first >= outer.Shards {
			t.Errorf("share of %v/s in a limit of 4x250/s: shards %d from %d (limit %+v), want %d", c.rate, count, first, l, c.count)
		}
	}
	// Shares of one tenant start on different shards.
	firsts := map[int]bool{}
	for i := range 40 {
		first, _, _ := Share{ID: "key_" + strconv.Itoa(i), Limit: Limit{Every: time.Second, Burst: 1}}.place(outer)
		firsts[first] = true
	}
	if len(firsts) != outer.Shards {
		t.Errorf("40 keys start on %d of %d shards", len(firsts), outer.Shards)
	}
	if a := (Share{ID: "key_01jabcdefghjkmnpqrstvwxyz0"}).attr(); len(a) != 14 {
		t.Errorf("attribute %q: want 14 characters whatever the id", a)
	}
}

// One key sending 2,000 requests a second under a key limit of 1,000 and a
// tenant limit of 1,000: about 1,000 are admitted each second, spread over
// all four items (the key is not capped at one shard's 250).
func TestShareAtATenantsWholeRate(t *testing.T) {
	ctx := context.Background()
	now := t0
	m := &Memory{Now: func() time.Time { return now }}
	tenant := Key{"t1", "API"}
	outer := PerSecond(1000, 1000)
	key := Share{ID: "key_busy", Limit: PerSecond(1000, 1000)}
	admitted := 0
	for i := range 20000 { // 10 s at 2,000/s
		now = t0.Add(time.Duration(i) * 500 * time.Microsecond)
		if ok, _, _, _ := AdmitShare(ctx, m, tenant, outer, key, now); ok {
			admitted++
		}
	}
	perSecond := float64(admitted-1000) / 10 // less the opening burst
	if perSecond < 900 || perSecond > 1000 {
		t.Fatalf("admitted %.0f a second, want about 1,000 (the limits), at most 1,000", perSecond)
	}
	items := map[hintKey]bool{}
	for k := range m.tat {
		items[k] = true
	}
	if len(items) != 8 { // 4 items, each with the tenant's TAT and the key's
		t.Fatalf("the key's requests used %d cells, want all 4 shards' two", len(items))
	}
}
