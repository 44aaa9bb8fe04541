package delivery

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/ratelimit"
	"github.com/uniasset/integrations/shared/webhook"
)

// Gate decides when an attempt may start, so that no receiver and no tenant
// holds more than a bounded share of the dispatcher:
//   - every webhook receives at most its rateLimit (or SendRate) deliveries a
//     second; the excess waits its turn, reserved in advance;
//   - while a webhook is slow (an attempt went unanswered for SlowAfter), it
//     starts at most EndpointSlots attempts per delivery timeout, and all of
//     its tenant's slow webhooks together at most TenantSlots: since an
//     attempt lasts at most the timeout, that bounds the dispatcher slots
//     they hold (one more than the slots, at most) whatever their number;
//   - a receiver's 429 or 503 with Retry-After holds the webhook's deliveries
//     until then.
//
// A delivery that waits is not attempted and not counted: its message is
// sent again with a delay (and the gate steps it has passed), and the slot
// it reserved is its own when it returns.
type Gate struct {
	Limits        ratelimit.Limiter
	SendRate      int           // deliveries a second per webhook without its own rateLimit
	Timeout       time.Duration // the delivery timeout: slow slots are counted per timeout
	EndpointSlots int
	TenantSlots   int
	SlowAfter     time.Duration
	// Sleep waits out a slot less than a second away (nil: the real clock;
	// a simulation advances its own).
	Sleep func(context.Context, time.Duration) error
}

// gateHorizon is the furthest ahead a slot is reserved: one SQS delay. A
// delivery further back in a backlog asks again when its turn comes near,
// without taking a slot meanwhile.
const gateHorizon = 15 * time.Minute

// slowFor is how long a slow mark lasts; an attempt still slow renews it.
const slowFor = 2 * time.Minute

type gateStep struct {
	key   ratelimit.Key
	limit ratelimit.Limit
}

// sendLimit is w's own schedule: its rate normally, its share of slow slots while slow.
func (g *Gate) sendLimit(w webhook.Webhook, slow bool) ratelimit.Limit {
	if slow {
		// No burst and one item: a slow receiver starts at most slots+1
		// attempts within any one timeout, so at most that many are open.
		slots := max(g.EndpointSlots, 1)
		return ratelimit.Limit{Every: g.Timeout / time.Duration(slots), Burst: 1, Shards: 1}
	}
	rate := g.SendRate
	if w.RateLimit > 0 {
		rate = w.RateLimit
	}
	return ratelimit.PerSecond(float64(max(rate, 1)), max(1, rate/10))
}

// sendKey is the limit w's attempts take their slots from. A slow webhook
// has a schedule of its own: its intervals are seconds, not milliseconds,
// and a TAT left far ahead by a backlog at its rate must not be read as one
// of them (or the other way round) when the mark comes or goes.
func sendKey(w webhook.Webhook, slow bool) ratelimit.Key {
	if slow {
		return ratelimit.Key{TenantID: w.TenantID, Scope: keyschema.RateSlowWebhookSends(w.ID)}
	}
	return ratelimit.Key{TenantID: w.TenantID, Scope: keyschema.RateWebhookSends(w.ID)}
}

// steps are the limits an attempt of w passes, in order. A late delivery
// (one back well after the slot it reserved) has more: see Key.Late. Each
// schedule (normal, slow) has late keys of its own, and a slow one's late
// deliveries are paced by the tenant's slow share too.
func (g *Gate) steps(w webhook.Webhook, slow, late bool) []gateStep {
	s := []gateStep{{sendKey(w, slow), g.sendLimit(w, slow)}}
	tenantSlow := ratelimit.Limit{Every: g.Timeout / time.Duration(max(g.TenantSlots, 1)), Burst: 1, Shards: 1}
	if slow {
		s = append(s, gateStep{ratelimit.Key{TenantID: w.TenantID, Scope: keyschema.RateSlowSends}, tenantSlow})
	}
	if late {
		s = append(s, gateStep{ratelimit.Key{TenantID: w.TenantID, Scope: keyschema.RateLateSends(w.ID, slow)}, g.sendLimit(w, slow)})
		if slow {
			s = append(s, gateStep{ratelimit.Key{TenantID: w.TenantID, Scope: keyschema.RateLateSlowSends}, tenantSlow})
		}
	}
	return s
}

// Pass takes k's remaining gate steps for attempt n of w. It returns 0 when
// the attempt may start now; otherwise how long k must wait, with k updated
// to say which steps it has passed (a slot it reserved is kept for it).
func (g *Gate) Pass(ctx context.Context, k *Key, w webhook.Webhook, n int, slow bool, now time.Time) (time.Duration, error) {
	if g == nil || g.Limits == nil {
		return 0, nil
	}
	if k.GateFor != n || k.GateSlow != slow {
		// Steps passed for an earlier attempt, or under the other schedule
		// (the slow mark came or went), do not count for this one.
		k.Gate, k.GateFor, k.GateSlow, k.Late = 0, n, slow, 0
	}
	steps := g.steps(w, slow, k.Late > 0)
	base := len(g.steps(w, slow, false))
	callerNow := now
	if k.Late > 1 && k.Gate > base {
		// Late again (a second stall): its late steps are taken anew, but
		// only a slot free now, never one ahead that it could be late for again.
		k.Gate = base
	}
	for k.Gate < len(steps) {
		st := steps[k.Gate]
		horizon := gateHorizon
		if k.Late > 1 && k.Gate >= base {
			horizon = 0
		}
		ok, start, err := g.Limits.Reserve(ctx, st.key, st.limit, horizon)
		if err != nil {
			return 0, err
		}
		if !ok && (start.IsZero() || horizon == 0) {
			// A busy limit (its item changed under every write tried), or a
			// late-again delivery with no slot free now: ask again in a
			// second, keeping the slots it holds.
			return time.Second, nil
		}
		if !ok {
			// Its turn is beyond the horizon. Slots an earlier step
			// reserved would be used far from their time, so it takes every
			// step again when it is back: nearer to its turn, spread over
			// half a horizon, so a backlog refused together does not come
			// back together (each asks a few times, not once a second).
			k.Gate, k.Late = 0, 0
			spread := time.Duration(rand.Int64N(int64(gateHorizon / 2)))
			return max(start.Sub(now)+spread, time.Second), nil
		}
		k.Gate++
		wait := start.Sub(now)
		if wait >= time.Second {
			// From the caller's now, not from after the waits slept above:
			// the caller's now plus this is the slot's start (NotBefore).
			return start.Sub(callerNow), nil
		}
		// SQS delays in whole seconds: a slot less than a second away is
		// waited for here, never taken early.
		if wait > 0 {
			pause := sleep
			if g.Sleep != nil {
				pause = g.Sleep
			}
			if err := pause(ctx, wait); err != nil {
				return 0, err
			}
			now = now.Add(wait)
		}
	}
	return 0, nil
}

// Back notes that k came back at now for the slot it waited for (at). One
// back well after it is late: sending now could bunch it with other late
// ones, and taking a later slot instead would waste this one, so that a
// queue that lags would starve the webhook. It keeps its slot and passes
// more steps (Key.Late). Back reports whether k is late now.
func (k *Key) Back(at, now time.Time) bool {
	if now.Sub(at) <= lateSlot || k.Gate == 0 {
		return false
	}
	k.Late = min(k.Late+1, 2)
	return true
}

// sleep waits d unless ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Hold makes w's deliveries wait until until (a receiver's Retry-After).
func (g *Gate) Hold(ctx context.Context, w webhook.Webhook, slow bool, until time.Time) error {
	if g == nil || g.Limits == nil {
		return nil
	}
	// Both of its schedules: the mark may come or go before until.
	for _, s := range []bool{slow, !slow} {
		if err := g.Limits.Hold(ctx, sendKey(w, s), g.sendLimit(w, s), until); err != nil {
			return err
		}
	}
	return nil
}

// maxRetryAfter bounds the wait a receiver's Retry-After can ask for.
const maxRetryAfter = time.Hour

// RetryAfter reads a 429's or 503's Retry-After (seconds, or an HTTP date),
// at most maxRetryAfter; 0 when there is none to honour.
func RetryAfter(status int, h http.Header, now time.Time) time.Duration {
	if status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
		return 0
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		d = time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// hooks is a dispatcher instance's copy of the webhooks it sends to, so the
// reads of one webhook's item grow with the instances, not with its traffic.
type hooks struct {
	mu sync.Mutex
	m  map[[2]string]*cachedHook
}

type cachedHook struct {
	hook     webhook.Fetched
	entitled bool      // the tenant's plan includes webhooks
	readAt   time.Time // the whole item, strongly consistent
	healthAt time.Time // its health inputs
	slowSeen time.Time // this instance saw it slow (before its mark is read back)
}

// maxCachedHooks bounds the copies an instance keeps (a guess, not state).
const maxCachedHooks = 10000

func (c *hooks) get(tenantID, id string, now time.Time, ttl time.Duration) (cachedHook, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[[2]string{tenantID, id}]
	if !ok || now.Sub(e.readAt) >= ttl || now.Before(e.readAt) {
		return cachedHook{}, false
	}
	return *e, true
}

func (c *hooks) put(tenantID, id string, f webhook.Fetched, entitled bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedHooks {
		c.m = map[[2]string]*cachedHook{}
	}
	key := [2]string{tenantID, id}
	prev := c.m[key]
	e := &cachedHook{hook: f, entitled: entitled, readAt: now, healthAt: now}
	if prev != nil {
		e.slowSeen = prev.slowSeen
		// A pause only ever moves later (webhook.Store.Hold): a read that
		// began before this instance's own 429 must not take it back.
		e.hook.HoldUntil = max(e.hook.HoldUntil, prev.hook.HoldUntil)
	}
	c.m[key] = e
}

// holdUntil is the pause this instance's copy of w holds ("" without a copy).
func (c *hooks) holdUntil(w webhook.Webhook) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[[2]string{w.TenantID, w.ID}]; e != nil {
		return e.hook.HoldUntil
	}
	return ""
}

// heldPast reports whether this instance's copy of w holds a pause past now.
func (c *hooks) heldPast(w webhook.Webhook, now time.Time) bool {
	return c.holdUntil(w) > isotime.Format(now)
}

// update changes the copy of w, if there is one, with change.
func (c *hooks) update(w webhook.Webhook, change func(*cachedHook)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[[2]string{w.TenantID, w.ID}]; e != nil {
		change(e)
	}
}
