package integrationapi

import (
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/apikey"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/ratelimit"
	"github.com/uniasset/integrations/shared/tenant"
)

// A tenant takes the configured limit unless its profile overrides it, and
// no override can reach the HTTP API's shared throttle (1,000 rps, burst 2,000).
func TestTenantLimit(t *testing.T) {
	a := &API{Rate: 100, Burst: 200}
	for _, c := range []struct {
		profile tenant.Profile
		want    ratelimit.Limit
	}{
		{tenant.Profile{}, ratelimit.PerSecond(100, 200)},
		{tenant.Profile{APIRateLimit: 20, APIRateBurst: 40}, ratelimit.PerSecond(20, 40)},
		{tenant.Profile{APIRateBurst: 10}, ratelimit.PerSecond(100, 10)},
		{tenant.Profile{APIRateLimit: 50_000, APIRateBurst: 90_000}, ratelimit.PerSecond(1000, 2000)},
	} {
		ls := a.limits(apikey.Principal{Key: apikey.Key{TenantID: "t1", ID: "key_1"}, Profile: c.profile})
		if ls.tenant.Limit != c.want || ls.key != (ratelimit.Key{TenantID: "t1", Scope: keyschema.RateAPI}) || ls.tenant.Name != "tenant" || ls.own != nil {
			t.Errorf("%+v: %+v, want %+v on the tenant's API scope", c.profile, ls, c.want)
		}
	}
}

// A key's own limit is a share of its tenant's, named for the key's limit
// id (a rolled key's predecessor's), at its rate with its whole count as
// the burst.
func TestKeyLimit(t *testing.T) {
	a := &API{Rate: 100, Burst: 200}
	for _, c := range []struct {
		key   apikey.Key
		id    string
		every time.Duration
		burst int
	}{
		{apikey.Key{ID: "key_1", RateLimit: &apikey.RateLimit{Requests: 10, Per: "second"}}, "key_1", 100 * time.Millisecond, 10},
		{apikey.Key{ID: "key_2", LimitID: "key_1", RateLimit: &apikey.RateLimit{Requests: 600, Per: "minute"}}, "key_1", 100 * time.Millisecond, 600},
		{apikey.Key{ID: "key_3", RateLimit: &apikey.RateLimit{Requests: 1, Per: "minute"}}, "key_3", time.Minute, 1},
	} {
		c.key.TenantID = "t1"
		ls := a.limits(apikey.Principal{Key: c.key})
		if ls.own == nil || ls.own.Name != "key" || ls.share.ID != c.id || ls.share.Limit != ls.own.Limit ||
			ls.own.Limit.Every != c.every || ls.own.Limit.Burst != c.burst || ls.tenant.Name != "tenant" {
			t.Errorf("%+v: own %+v share %+v, want %v with a burst of %d as %s", c.key, ls.own, ls.share, c.every, c.burst, c.id)
		}
	}
}
