package apikey

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/redact"
	"github.com/uniasset/integrations/shared/tenant"
)

// Service issues and verifies keys.
type Service struct {
	Store            *Store
	BcryptCost       int
	LastUsedInterval time.Duration
	Cache            *Cache           // nil disables caching (the benchmark's uncached case)
	Sources          *Sources         // nil: lookups are not limited per source address
	Now              func() time.Time // the clock; nil is time.Now
	// AcceptLegacy lets keys without a checksum (issued before keys had
	// one) authenticate; without it, a key whose checksum fails is refused
	// before any read.
	AcceptLegacy bool
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Principal is who an authenticated integration request acts as.
type Principal struct {
	Key     Key
	Profile tenant.Profile
}

// Issue creates a key and returns its record and the full key string, which
// exists nowhere else after this call returns.
func (s *Service) Issue(ctx context.Context, tenantID, createdBy string, in NewKeyInput) (Key, string, error) {
	if err := in.Validate(s.now()); err != nil {
		return Key{}, "", err
	}
	var asked time.Time
	if in.ExpiresAt != nil {
		asked, _ = isotime.Parse(*in.ExpiresAt) // Validate parsed it
	}
	policy, err := s.Store.GetPolicy(ctx, tenantID)
	if err != nil {
		return Key{}, "", err
	}
	end, err := policy.Lifetime(asked, s.now())
	if err != nil {
		return Key{}, "", err
	}
	var until string
	if !end.IsZero() {
		until = isotime.Format(end)
	}
	for attempt := 0; ; attempt++ {
		plain, err := Generate()
		if err != nil {
			return Key{}, "", err
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(plain), s.BcryptCost)
		if err != nil {
			return Key{}, "", err
		}
		k := Key{
			TenantID: tenantID, ID: "key_" + strings.ToLower(ulid.Make().String()),
			Name: strings.TrimSpace(in.Name), Prefix: DisplayPrefix(plain), Lookup: LookupID(plain),
			Hash: string(hash), Permissions: in.Permissions,
			CreatedAt: isotime.Format(s.now()), CreatedBy: createdBy, ValidUntil: until, AllowedIPs: in.AllowedIPs, Checked: true,
			RateLimit: in.RateLimit, ExpiryDay: expiryDay(until),
		}
		err = s.Store.Create(ctx, k)
		if errors.Is(err, errCollision) && attempt < 2 {
			continue
		}
		return k, plain, err
	}
}

// Roll replaces key id with a new key (shown once: the returned string)
// of the same name and permissions, and makes the old one stop working
// after overlap (0: now; never later than it would have). Until then both
// work, so a client can be redeployed with the new key before the old one
// ends. A key with an expiry passes its lifetime on: the new one lasts as
// long from now. A revoked, expired or already rolled key is a conflict
// (roll the key it was rolled to).
func (s *Service) Roll(ctx context.Context, tenantID, id, by string, overlap time.Duration) (old, next Key, plain string, err error) {
	old, found, err := s.Store.Get(ctx, tenantID, id)
	switch {
	case err != nil:
		return Key{}, Key{}, "", err
	case !found:
		return Key{}, Key{}, "", apierror.New(apierror.NotFound, "no API key %q", id)
	}
	now := s.now()
	policy, err := s.Store.GetPolicy(ctx, tenantID)
	if err != nil {
		return Key{}, Key{}, "", err
	}
	switch {
	case old.RolledTo != "":
		return Key{}, Key{}, "", apierror.New(apierror.Conflict, "this key was already rolled to %s; roll that key", old.RolledTo)
	case !old.Works(now):
		return Key{}, Key{}, "", apierror.New(apierror.Conflict, "a revoked or expired key cannot be rolled; create a new key")
	}
	for attempt := 0; ; attempt++ {
		plain, err = Generate()
		if err != nil {
			return Key{}, Key{}, "", err
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(plain), s.BcryptCost)
		if err != nil {
			return Key{}, Key{}, "", err
		}
		next = Key{
			TenantID: tenantID, ID: "key_" + strings.ToLower(ulid.Make().String()),
			Name: old.Name, Prefix: DisplayPrefix(plain), Lookup: LookupID(plain), Hash: string(hash), Permissions: old.Permissions,
			CreatedAt: isotime.Format(now), CreatedBy: by, RolledFrom: old.ID, AllowedIPs: old.AllowedIPs, Checked: true,
		}
		if limit, id := old.OwnLimit(); limit != nil {
			next.RateLimit, next.LimitID = limit, id
		}
		var inherited time.Time
		if created, err := isotime.Parse(old.CreatedAt); err == nil && old.ValidUntil != "" {
			if until, err := isotime.Parse(old.ValidUntil); err == nil {
				inherited = now.Add(until.Sub(created))
			}
		}
		if end := policy.Cap(inherited, now); !end.IsZero() {
			next.ValidUntil = isotime.Format(end)
			next.ExpiryDay = expiryDay(next.ValidUntil)
		}
		ends := now.Add(overlap)
		if until, err := isotime.Parse(old.ValidUntil); err == nil && until.Before(ends) {
			ends = until
		}
		err = s.Store.Roll(ctx, old, next, isotime.Format(ends), by, now)
		if errors.Is(err, errCollision) && attempt < 2 {
			continue
		}
		if err != nil {
			return Key{}, Key{}, "", err
		}
		old.ValidUntil, old.RolledTo = isotime.Format(ends), next.ID
		return old, next, plain, nil
	}
}

var errUnauthorized = apierror.New(apierror.Unauthorized, "a valid API key is required: Authorization: Bearer ua_live_<64 hex>")

// Caller is where a request comes from: the source address API Gateway
// saw (never a header the client sets) and the User-Agent it sent.
type Caller struct {
	IP, UserAgent string
}

// Authenticate verifies an Authorization header value sent by c. Every
// failure looks the same to the caller (401 UNAUTHORIZED) so nothing can be
// learned from it; a source over its lookups gets *LookupsLimited before
// any read, whatever its key.
func (s *Service) Authenticate(ctx context.Context, authorization string, c Caller) (Principal, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Principal{}, errUnauthorized
	}
	token = strings.TrimSpace(token)
	if !WellFormed(token) || !s.AcceptLegacy && !Checksummed(token) {
		return Principal{}, errUnauthorized // a typo or a random string: no read
	}
	fingerprint := sha256.Sum256([]byte(token))

	var (
		ref       cacheEntry
		fromCache bool
	)
	if s.Cache != nil {
		ref, fromCache = s.Cache.get(fingerprint)
	}
	if !fromCache {
		if s.Sources != nil {
			if ok, wait := s.Sources.take(c.IP); !ok {
				return Principal{}, &LookupsLimited{RetryAfter: wait}
			}
		}
		li, found, err := s.Store.resolve(ctx, LookupID(token))
		if err != nil {
			return Principal{}, err
		}
		if !found {
			return Principal{}, errUnauthorized
		}
		ref = cacheEntry{tenantID: li.TenantID, keyID: li.KeyID}
	}
	k, found, profile, err := s.Store.getWithProfile(ctx, ref.tenantID, ref.keyID)
	if err != nil {
		return Principal{}, err
	}
	// Revocation and expiry are read from the record on every request, cached or not.
	if !found || !k.Works(s.now()) {
		return Principal{}, errUnauthorized
	}
	if fromCache {
		// The cache remembers which hash this exact string matched; the record must still hold it.
		if subtle.ConstantTimeCompare([]byte(k.Hash), []byte(ref.hash)) != 1 {
			s.Cache.forget(fingerprint)
			return Principal{}, errUnauthorized
		}
	} else {
		if bcrypt.CompareHashAndPassword([]byte(k.Hash), []byte(token)) != nil {
			return Principal{}, errUnauthorized
		}
		if s.Cache != nil {
			s.Cache.put(fingerprint, cacheEntry{tenantID: k.TenantID, keyID: k.ID, hash: k.Hash})
		}
	}
	s.recordUse(ctx, &k, c)
	return Principal{Key: k, Profile: profile}, nil
}

// recordUse writes lastUsedAt, and where from, when the stored time is older
// than the interval. A failure here must not fail the request: it is
// bookkeeping, not authorization.
func (s *Service) recordUse(ctx context.Context, k *Key, c Caller) {
	t := s.now()
	if k.LastUsedAt != "" {
		if last, err := isotime.Parse(k.LastUsedAt); err == nil && t.Sub(last) < s.LastUsedInterval {
			return
		}
	}
	at := isotime.Format(t)
	ua := redact.String(truncate(c.UserAgent, maxUserAgent))
	if err := s.Store.touch(ctx, k.TenantID, k.ID, at, isotime.Format(t.Add(-s.LastUsedInterval)), c.IP, ua); err == nil {
		k.LastUsedAt, k.LastUsedIP, k.LastUsedUserAgent = at, c.IP, ua
	}
}

// maxUserAgent bounds the User-Agent a key's record keeps.
const maxUserAgent = 256

// truncate cuts s to at most n runes.
func truncate(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// Cache remembers "this exact key string matched key id X with hash H" so a
// repeated request skips bcrypt. It never remembers validity: revocation is
// checked against the record on every request.
type Cache struct {
	mu      sync.Mutex
	entries map[[32]byte]cacheEntry
	size    int
	ttl     time.Duration
	now     func() time.Time // time.Now; tests move it
}

type cacheEntry struct {
	tenantID, keyID, hash string
	expires               time.Time
}

// NewCache holds up to size entries for ttl each; size 0 returns nil (no cache).
func NewCache(size int, ttl time.Duration) *Cache {
	if size <= 0 {
		return nil
	}
	return &Cache{entries: make(map[[32]byte]cacheEntry, min(size, 1024)), size: size, ttl: ttl, now: time.Now}
}

func (c *Cache) get(fp [32]byte) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[fp]
	if ok && c.now().After(e.expires) {
		delete(c.entries, fp)
		return cacheEntry{}, false
	}
	return e, ok
}

func (c *Cache) put(fp [32]byte, e cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.size {
		// Evict an arbitrary entry: cheap, and a miss only costs one bcrypt.
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	e.expires = c.now().Add(c.ttl)
	c.entries[fp] = e
}

func (c *Cache) forget(fp [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, fp)
}
