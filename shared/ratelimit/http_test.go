package ratelimit

import (
	"net/http"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/apierror"
)

// The policy is the burst and the seconds GCRA takes to earn it back, in the
// draft's structured-field syntax; whole seconds round up, never to 0.
func TestPolicyField(t *testing.T) {
	for _, c := range []struct {
		p    Policy
		want string
	}{
		{Policy{"tenant", PerSecond(100, 200)}, `"tenant";q=200;w=2`},
		{Policy{"test-events", Limit{Every: 12 * time.Second, Burst: 5, Shards: 1}}, `"test-events";q=5;w=60`},
		{Policy{"tenant", PerSecond(3, 2)}, `"tenant";q=2;w=1`},    // 0.67 s rounds up
		{Policy{"tenant", PerSecond(1000, 1)}, `"tenant";q=4;w=1`}, // a burst at least one per shard
		{Policy{"x", Limit{Every: 1500 * time.Millisecond, Burst: 3}}, `"x";q=3;w=5`},
	} {
		if got := c.p.Field(); got != c.want {
			t.Errorf("%+v: %s, want %s", c.p, got, c.want)
		}
	}
}

// A refusal carries Retry-After rounded up (waiting it always succeeds), the
// policy, r=0 with the same t, and RATE_LIMITED, which maps to 429.
func TestRefuse(t *testing.T) {
	for _, c := range []struct {
		wait time.Duration
		secs string
	}{{time.Millisecond, "1"}, {time.Second, "1"}, {1001 * time.Millisecond, "2"}, {59 * time.Second, "59"}} {
		h := http.Header{}
		err := Policy{"tenant", PerSecond(1, 2)}.Refuse(h, c.wait)
		if h.Get("Retry-After") != c.secs || h.Get("RateLimit") != `"tenant";r=0;t=`+c.secs || h.Get("RateLimit-Policy") != `"tenant";q=2;w=2` {
			t.Errorf("wait %v: headers %v, want Retry-After %s", c.wait, h, c.secs)
		}
		if err.Code != apierror.RateLimited || err.Code.Status() != http.StatusTooManyRequests {
			t.Errorf("wait %v: %v", c.wait, err)
		}
	}
}
