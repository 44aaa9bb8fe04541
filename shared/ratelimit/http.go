package ratelimit

import (
	"net/http"
	"strconv"
	"time"

	"github.com/uniasset/integrations/shared/apierror"
)

// Policy is a limit as clients see it, named for the RateLimit-Policy and
// RateLimit fields of draft-ietf-httpapi-ratelimit-headers (-09 and later:
// one structured-field List item per policy, a String identifier, q and w).
type Policy struct {
	Name  string // a short ASCII identifier ("tenant", "test-events")
	Limit Limit
}

// Quota is the burst and the whole seconds it takes to earn it back: GCRA
// admits q at once and then q over every w seconds, never more.
func (p Policy) Quota() (q, w int) {
	q = max(p.Limit.Burst, 1)
	return q, max(ceilSeconds(p.Limit.Every*time.Duration(q)), 1)
}

// Field is the RateLimit-Policy value, e.g. "tenant";q=200;w=2.
func (p Policy) Field() string {
	q, w := p.Quota()
	return strconv.Quote(p.Name) + ";q=" + strconv.Itoa(q) + ";w=" + strconv.Itoa(w)
}

// Refuse sets Retry-After (whole seconds, rounded up: a client that waits
// it is admitted), RateLimit-Policy and RateLimit (nothing remains until t)
// and returns the RATE_LIMITED error the one error writer renders as 429.
func (p Policy) Refuse(h http.Header, retryAfter time.Duration) *apierror.Error {
	secs := strconv.Itoa(max(ceilSeconds(retryAfter), 1))
	h.Set("Retry-After", secs)
	h.Set("RateLimit-Policy", p.Field())
	h.Set("RateLimit", strconv.Quote(p.Name)+";r=0;t="+secs)
	q, w := p.Quota()
	return apierror.New(apierror.RateLimited, "too many requests: the %s limit is %d per %d s; retry after %s s", p.Name, q, w, secs)
}

func ceilSeconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }
