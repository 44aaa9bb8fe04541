package integrationapi

import (
	"testing"

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
		if len(ls) != 1 || ls[0].policy.Limit != c.want || ls[0].key != (ratelimit.Key{TenantID: "t1", Scope: keyschema.RateAPI}) || ls[0].policy.Name != "tenant" {
			t.Errorf("%+v: %+v, want %+v on the tenant's API scope", c.profile, ls, c.want)
		}
	}
}
