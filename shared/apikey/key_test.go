package apikey

import (
	"strings"
	"testing"
	"time"
)

func TestGenerateFormat(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		k, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if len(k) != 72 || !WellFormed(k) {
			t.Fatalf("generated key %q is not ua_live_ + 64 lowercase hex", k)
		}
		if seen[k] || seen[LookupID(k)] {
			t.Fatal("duplicate key or lookup id in 100 draws")
		}
		seen[k], seen[LookupID(k)] = true, true
		if DisplayPrefix(k) != k[:12] || LookupID(k) != k[8:24] {
			t.Fatal("prefix or lookup id taken from the wrong place")
		}
	}
}

func TestWellFormed(t *testing.T) {
	good := "ua_live_" + strings.Repeat("0123456789abcdef", 4)
	cases := map[string]bool{
		good:                                   true,
		good[:71]:                              false,
		good + "0":                             false,
		"ua_live_" + strings.ToUpper(good[8:]): false,
		"ua_test_" + good[8:]:                  false,
		"UA_LIVE_" + good[8:]:                  false,
		good[:70] + "g0":                       false,
		"":                                     false,
		" " + good:                             false,
	}
	for k, want := range cases {
		if WellFormed(k) != want {
			t.Errorf("WellFormed(%q) = %v, want %v", k, !want, want)
		}
	}
}

func TestNewKeyInputValidate(t *testing.T) {
	cases := []struct {
		in NewKeyInput
		ok bool
	}{
		{NewKeyInput{Name: "ERP", Permissions: []Permission{AssetCreate}}, true},
		{NewKeyInput{Name: "No scopes", Permissions: []Permission{}}, true},
		{NewKeyInput{Name: "", Permissions: []Permission{}}, false},
		{NewKeyInput{Name: "x", Permissions: nil}, false},
		{NewKeyInput{Name: "x", Permissions: []Permission{"asset:*"}}, false},
		{NewKeyInput{Name: "x", Permissions: []Permission{AssetCreate, AssetCreate}}, false},
		{NewKeyInput{Name: "tab\tname", Permissions: []Permission{}}, false},
		{NewKeyInput{Name: strings.Repeat("é", 100), Permissions: []Permission{}}, true},
		{NewKeyInput{Name: strings.Repeat("é", 101), Permissions: []Permission{}}, false},
		{NewKeyInput{Name: "x", Permissions: []Permission{}, ExpiresAt: ptr("2027-06-30T00:00:00Z")}, true},
		{NewKeyInput{Name: "x", Permissions: []Permission{}, ExpiresAt: ptr("2026-12-01T00:00:00Z")}, false}, // past
		{NewKeyInput{Name: "x", Permissions: []Permission{}, ExpiresAt: ptr("2040-01-01T00:00:00Z")}, false}, // past 10 years
		{NewKeyInput{Name: "x", Permissions: []Permission{}, ExpiresAt: ptr("next week")}, false},
	}
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	for i, c := range cases {
		if err := c.in.Validate(now); (err == nil) != c.ok {
			t.Errorf("case %d: Validate() = %v, want ok=%v", i, err, c.ok)
		}
	}
}

func TestCacheBoundsAndExpiry(t *testing.T) {
	base := time.Unix(1_800_000_000, 0)
	if NewCache(0, time.Minute) != nil {
		t.Fatal("size 0 must disable the cache")
	}
	c := NewCache(2, time.Minute)
	c.now = func() time.Time { return base }
	c.put([32]byte{1}, cacheEntry{keyID: "a"})
	c.put([32]byte{2}, cacheEntry{keyID: "b"})
	c.put([32]byte{3}, cacheEntry{keyID: "c"})
	if len(c.entries) != 2 {
		t.Fatalf("cache holds %d entries, bound is 2", len(c.entries))
	}
	if e, ok := c.get([32]byte{3}); !ok || e.keyID != "c" {
		t.Fatal("the newest entry was evicted")
	}
	c.now = func() time.Time { return base.Add(2 * time.Minute) }
	if _, ok := c.get([32]byte{3}); ok {
		t.Fatal("an expired entry was returned")
	}
}

func TestViewNeverCarriesSecrets(t *testing.T) {
	k := Key{ID: "key_1", Name: "n", Prefix: "ua_live_abcd", Lookup: "abcdef0123456789", Hash: "$2a$10$secret"}
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	v := k.View(now)
	if v.LastUsedAt != nil || v.RevokedAt != nil || v.Status != "active" || v.Permissions == nil || v.ExpiresAt != nil {
		t.Fatalf("view of an unused, active key: %+v", v)
	}
	k.ValidUntil = "2026-12-06T00:00:00.000Z"
	if k.View(now).Status != "expired" || !k.Expired(now) || k.Expired(now.Add(-time.Millisecond)) || k.Works(now) {
		t.Fatal("a key is expired from its validUntil on, not before")
	}
	k.RevokedAt, k.RevokedBy = "2026-01-01T00:00:00.000Z", "u"
	if k.View(now).Status != "revoked" {
		t.Fatal("revoked key shown as active")
	}
	k.ValidUntil = "garbage"
	if k.Works(now.Add(-time.Hour)) {
		t.Fatal("an unreadable validUntil must fail closed")
	}
}

func ptr(s string) *string { return &s }

// A new key's last 8 hex digits are the CRC-32 of the rest: any one-digit
// typo breaks it, and a random 64-hex string (a key issued before the
// checksum, or noise) almost never carries one.
func TestChecksum(t *testing.T) {
	for range 100 {
		k, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if !WellFormed(k) || !Checksummed(k) {
			t.Fatalf("%s: a new key must be well formed and checksummed", k)
		}
		for _, i := range []int{8, 30, 63, 71} {
			typo := []byte(k)
			typo[i] = "0123456789abcdef"[(strings.IndexByte("0123456789abcdef", typo[i])+1)%16]
			if Checksummed(string(typo)) {
				t.Fatalf("a typo at %d passes the checksum: %s", i, typo)
			}
		}
	}
	legacy := "ua_live_" + strings.Repeat("ab", 32)
	if Checksummed(legacy) || Checksummed("ua_live_short") || Checksummed(strings.ToUpper(legacy)) {
		t.Fatal("a string that is not a checksummed key passes")
	}
}
