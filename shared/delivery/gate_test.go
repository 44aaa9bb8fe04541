package delivery

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/uniasset/integrations/shared/ratelimit"
	"github.com/uniasset/integrations/shared/webhook"
)

var g0 = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

// starts runs attempts of hooks round-robin for a stretch, each passing the
// gate as the dispatcher does (a waiting one comes back at its slot), and
// returns when each attempt started.
func starts(t *testing.T, g *Gate, hooks []webhook.Webhook, slow bool, stretch time.Duration, offered int) []time.Time {
	t.Helper()
	return startsLagging(t, g, hooks, slow, stretch, offered, 0)
}

// startsLagging is starts with a queue that gives a waiting message back
// lag after its time (a backlog ahead of it, a dispatcher catching up).
func startsLagging(t *testing.T, g *Gate, hooks []webhook.Webhook, slow bool, stretch time.Duration, offered int, lag time.Duration) []time.Time {
	t.Helper()
	now := g0
	g.Limits = &ratelimit.Memory{Now: func() time.Time { return now }}
	g.Sleep = func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil }
	type msg struct {
		k      Key
		w      webhook.Webhook
		due    time.Time
		parked bool
	}
	var queue []msg
	for i := range offered {
		w := hooks[i%len(hooks)]
		queue = append(queue, msg{Key{TenantID: w.TenantID, WebhookID: w.ID, DeliveryID: fmt.Sprint(i)}, w, g0, false})
	}
	var out []time.Time
	for step := time.Duration(0); step < stretch; step += 100 * time.Millisecond {
		now = g0.Add(step)
		var later []msg
		for _, m := range queue {
			if m.due.After(now) {
				later = append(later, m)
				continue
			}
			if m.parked {
				m.k.Back(m.due.Add(-lag), now)
			}
			tick := now
			wait, err := g.Pass(context.Background(), &m.k, m.w, 1, slow, now)
			if err != nil {
				t.Fatal(err)
			}
			started := now // after any sub-second wait the gate slept
			now = tick
			if wait > 0 {
				m.due, m.parked = now.Add(wait+lag), true
				later = append(later, m)
				continue
			}
			out = append(out, started)
		}
		queue = later
	}
	return out
}

// Most attempts started within any one delivery timeout.
func mostPerTimeout(at []time.Time, timeout time.Duration) int {
	most := 0
	for i := range at {
		n := 0
		for j := i; j < len(at) && at[j].Sub(at[i]) < timeout; j++ {
			n++
		}
		most = max(most, n)
	}
	return most
}

func hooksOf(tenantID string, n int) []webhook.Webhook {
	var hs []webhook.Webhook
	for i := range n {
		hs = append(hs, webhook.Webhook{TenantID: tenantID, ID: fmt.Sprintf("wh_%d", i)})
	}
	return hs
}

// A slow webhook starts at most EndpointSlots attempts per timeout, and a
// tenant's 50 slow webhooks together at most TenantSlots: since an attempt
// lasts at most the timeout, the dispatcher slots they hold stay bounded
// whatever their number.
func TestGateBoundsSlowReceivers(t *testing.T) {
	g := &Gate{SendRate: 50, Timeout: 10 * time.Second, EndpointSlots: 5, TenantSlots: 50}
	one := starts(t, g, hooksOf("a", 1), true, time.Minute, 100)
	if got := mostPerTimeout(one, g.Timeout); got > g.EndpointSlots+1 {
		t.Fatalf("one slow webhook started %d attempts within a timeout; its share is %d", got, g.EndpointSlots)
	}
	if len(one) < 5*g.EndpointSlots {
		t.Fatalf("one slow webhook started only %d attempts in a minute: the gate must delay, not starve", len(one))
	}
	fifty := starts(t, g, hooksOf("a", 50), true, 30*time.Second, 1000)
	if got := mostPerTimeout(fifty, g.Timeout); got > g.TenantSlots+1 {
		t.Fatalf("a tenant's 50 slow webhooks started %d attempts within a timeout; the tenant's share is %d", got, g.TenantSlots)
	}
}

// A fast webhook is held to its rate (its own rateLimit, else SendRate),
// which a tenant's slow share does not touch.
func TestGateHoldsEachWebhookToItsRate(t *testing.T) {
	g := &Gate{SendRate: 50, Timeout: 10 * time.Second, EndpointSlots: 5, TenantSlots: 50}
	hook := hooksOf("a", 1)
	hook[0].RateLimit = 10
	got := starts(t, g, hook, false, 10*time.Second, 1000)
	if len(got) < 95 || len(got) > 101 {
		t.Fatalf("a webhook at rateLimit 10 started %d attempts in 10 s", len(got))
	}
	def := starts(t, g, hooksOf("b", 1), false, 10*time.Second, 1000)
	if len(def) < 480 || len(def) > 510 {
		t.Fatalf("a webhook at the default 50/s started %d attempts in 10 s", len(def))
	}
}

// A queue that gives every waiting delivery back late (here 3 s, as in a
// backlog) does not starve a webhook: a late delivery keeps the slot it
// reserved instead of taking a later one (which it would come back late
// for again), and late deliveries are paced at the webhook's rate among
// themselves, so the receiver sees at most twice its rate.
func TestGateLateDeliveriesKeepTheirSlots(t *testing.T) {
	g := &Gate{SendRate: 50, Timeout: 10 * time.Second, EndpointSlots: 5, TenantSlots: 50}
	hook := hooksOf("a", 1)
	hook[0].RateLimit = 10
	got := startsLagging(t, g, hook, false, 30*time.Second, 1000, 3*time.Second)
	if len(got) < 250 {
		t.Fatalf("a webhook at rateLimit 10 behind a 3 s queue lag started %d attempts in 30 s; want about 300", len(got))
	}
	if most := mostPerTimeout(got, time.Second); most > 2*(10+1) {
		t.Fatalf("%d attempts within a second at rateLimit 10: late deliveries must be paced (at most twice the rate)", most)
	}
	slow := startsLagging(t, g, hook, true, time.Minute, 100, 3*time.Second)
	if len(slow) < 5*g.EndpointSlots {
		t.Fatalf("a slow webhook behind a 3 s lag started only %d attempts in a minute", len(slow))
	}
	if most := mostPerTimeout(slow, g.Timeout); most > 2*(g.EndpointSlots+1) {
		t.Fatalf("a slow webhook behind a lag started %d attempts within a timeout", most)
	}
}

// A delivery refused a slot (its turn beyond the horizon) gives up the
// steps it passed: coming back much later, it must not use a slot reserved
// for now. A refusal that is not beyond the horizon (the item changed under
// every write) asks again soon, not minutes later, keeping the slots it holds.
func TestGateRefusalStartsOver(t *testing.T) {
	g := &Gate{SendRate: 50, Timeout: 10 * time.Second, EndpointSlots: 5, TenantSlots: 1}
	lim := &refusing{Memory: ratelimit.Memory{Now: func() time.Time { return g0 }}}
	g.Limits = lim
	w := hooksOf("a", 1)[0]
	k := Key{TenantID: "a", WebhookID: w.ID}
	lim.refuse, lim.at = "SLOWSEND", g0.Add(5*time.Minute) // its slot 20 minutes away: ask again in 5
	wait, err := g.Pass(context.Background(), &k, w, 1, true, g0)
	if err != nil || wait < 5*time.Minute || k.Gate != 0 {
		t.Fatalf("refused beyond the horizon at the tenant step: wait %v, key %+v, %v; want 5 min or more and no step kept", wait, k, err)
	}
	lim = &refusing{Memory: ratelimit.Memory{Now: func() time.Time { return g0 }}, refuse: "SLOWSEND"}
	g.Limits = lim
	k = Key{TenantID: "a", WebhookID: w.ID}
	if wait, _ := g.Pass(context.Background(), &k, w, 1, true, g0); wait != time.Second || k.Gate != 1 {
		t.Fatalf("refused under contention: wait %v, key %+v; want a second, its webhook slot kept", wait, k)
	}
}

// refusing is a Memory limiter that refuses one scope, saying to ask again at at.
type refusing struct {
	ratelimit.Memory
	refuse string
	at     time.Time
}

func (r *refusing) Reserve(ctx context.Context, key ratelimit.Key, l ratelimit.Limit, horizon time.Duration) (bool, time.Time, error) {
	if key.Scope == r.refuse {
		return false, r.at, nil
	}
	return r.Memory.Reserve(ctx, key, l, horizon)
}

// A slow webhook's schedule is its own (one item, its slots per timeout),
// not its rate's: a rate schedule spread over shards would multiply its
// slots, and a TAT a backlog left far ahead must not hold it.
func TestGateSlowScheduleIsItsOwn(t *testing.T) {
	g := &Gate{SendRate: 50, Timeout: 10 * time.Second, EndpointSlots: 5, TenantSlots: 50}
	w := hooksOf("a", 1)[0]
	w.RateLimit = 1000 // four shards at its rate
	got := starts(t, g, []webhook.Webhook{w}, true, time.Minute, 200)
	if most := mostPerTimeout(got, g.Timeout); most > g.EndpointSlots+1 {
		t.Fatalf("a slow webhook at rateLimit 1000 started %d attempts within a timeout; its share is %d", most, g.EndpointSlots)
	}
	if a, b := sendKey(w, true), sendKey(w, false); a == b {
		t.Fatalf("slow and normal schedules share the key %v", a)
	}
}

// Steps passed for an earlier attempt are not carried into the next one.
func TestGateStepsBelongToOneAttempt(t *testing.T) {
	g := &Gate{SendRate: 1, Timeout: 10 * time.Second, EndpointSlots: 1, TenantSlots: 1,
		Limits: &ratelimit.Memory{Now: func() time.Time { return g0 }}}
	w := hooksOf("a", 1)[0]
	k := Key{TenantID: "a", WebhookID: w.ID, Gate: 1, GateFor: 1}
	if wait, _ := g.Pass(context.Background(), &k, w, 2, false, g0); wait != 0 || k.GateFor != 2 || k.Gate != 1 {
		t.Fatalf("attempt 2 with attempt 1's step: wait %v, key %+v; want the step taken again for attempt 2", wait, k)
	}
	k2 := Key{TenantID: "a", WebhookID: w.ID}
	if wait, _ := g.Pass(context.Background(), &k2, w, 1, false, g0); wait < time.Second || k2.Gate != 1 || k2.GateFor != 1 {
		t.Fatalf("a second delivery at 1/s: wait %v, key %+v; want its slot a second later, kept", wait, k2)
	}
}

func TestRetryAfter(t *testing.T) {
	h := func(v string) http.Header { return http.Header{"Retry-After": {v}} }
	for _, c := range []struct {
		status int
		header http.Header
		want   time.Duration
	}{
		{429, h("30"), 30 * time.Second},
		{503, h("2"), 2 * time.Second},
		{429, h(g0.Add(90 * time.Second).Format(http.TimeFormat)), 90 * time.Second},
		{429, h("86400"), time.Hour}, // capped
		{429, h("-5"), 0},
		{429, h("soon"), 0},
		{429, http.Header{}, 0},
		{500, h("30"), 0}, // only 429 and 503 ask for a pause
		{200, h("30"), 0},
		{429, h(g0.Add(-time.Minute).Format(http.TimeFormat)), 0},
	} {
		if got := RetryAfter(c.status, c.header, g0); got != c.want {
			t.Errorf("RetryAfter(%d, %v) = %v, want %v", c.status, c.header, got, c.want)
		}
	}
}

// capture records what the queue sends.
type capture struct {
	SQSAPI
	groups []string
}

func (c *capture) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	c.groups = append(c.groups, aws.ToString(in.MessageGroupId))
	return &sqs.SendMessageOutput{}, nil
}

func (c *capture) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	for _, e := range in.Entries {
		c.groups = append(c.groups, aws.ToString(e.MessageGroupId))
	}
	return &sqs.SendMessageBatchOutput{}, nil
}

// Every message DeliveryQueue gets names its tenant as message group: the
// fair queue serves a quiet tenant's messages ahead of a noisy one's backlog.
func TestEveryDeliveryMessageIsGroupedByTenant(t *testing.T) {
	c := &capture{}
	q := &Queue{SQS: c, URL: "q"}
	var keys []Key
	for i := range 25 {
		keys = append(keys, Key{TenantID: fmt.Sprintf("t%d", i%3), DeliveryID: fmt.Sprint(i)})
	}
	if err := q.Send(context.Background(), keys); err != nil {
		t.Fatal(err)
	}
	if err := q.SendDelayed(context.Background(), Key{TenantID: "t9"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	want := []string{}
	for _, k := range keys {
		want = append(want, k.TenantID)
	}
	want = append(want, "t9")
	if fmt.Sprint(c.groups) != fmt.Sprint(want) {
		t.Fatalf("message groups %v, want each message's tenant %v", c.groups, want)
	}
}
