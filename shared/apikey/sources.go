package apikey

import (
	"net/netip"
	"sync"
	"time"

	"github.com/uniasset/integrations/shared/ratelimit"
)

// Sources limits, per source address, how many key strings this instance
// has not verified before it looks up: each lookup is a DynamoDB read, so a
// flood of random well-formed keys from one address costs at most this
// limit's reads, and its excess is answered from memory. Keys already
// verified (in the cache) never ask, so a busy client's key is not held up
// by a flood from its own address.
type Sources struct {
	Limit ratelimit.Limit
	Now   func() time.Time // nil: time.Now

	mu  sync.Mutex
	tat map[string]time.Time
}

// maxSources bounds the addresses remembered; at rest ones go first.
const maxSources = 100_000

// NewSources allows perMinute lookups a minute from each address, as many at once.
func NewSources(perMinute int) *Sources {
	return &Sources{Limit: ratelimit.Limit{Every: time.Minute / time.Duration(max(perMinute, 1)), Burst: max(perMinute, 1), Shards: 1}}
}

// Policy names the limit in the rate-limit headers of a refusal.
func (s *Sources) Policy() ratelimit.Policy {
	return ratelimit.Policy{Name: "key-lookups", Limit: s.Limit}
}

// take admits one lookup from source, or says how long until one is free.
func (s *Sources) take(source string) (bool, time.Duration) {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	src := sourceKey(source)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tat == nil {
		s.tat = map[string]time.Time{}
	}
	d := ratelimit.Decide(s.Limit, s.tat[src], now, 0)
	if !d.OK {
		return false, max(d.Start.Sub(now), time.Millisecond)
	}
	if _, known := s.tat[src]; !known && len(s.tat) >= maxSources {
		s.forgetRested(now)
	}
	s.tat[src] = d.TAT
	return true, 0
}

// forgetRested drops addresses whose limit is whole again (forgetting them
// changes no decision); if every one is busy, all go: a spray of addresses
// earns a budget per address anyway.
func (s *Sources) forgetRested(now time.Time) {
	for k, tat := range s.tat {
		if !tat.After(now) {
			delete(s.tat, k)
		}
	}
	if len(s.tat) >= maxSources {
		clear(s.tat)
	}
}

// sourceKey is the unit one client controls: an IPv4 address, or an IPv6
// /64 (one host is routinely given a whole /64).
func sourceKey(source string) string {
	ip, err := netip.ParseAddr(source)
	if err != nil {
		return source
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

// LookupsLimited is Authenticate's answer when the caller's address has
// used its lookups; the API renders it as 429 RATE_LIMITED.
type LookupsLimited struct{ RetryAfter time.Duration }

func (e *LookupsLimited) Error() string { return "key lookups from this address are rate limited" }
