package ratelimit

import (
	"context"
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
