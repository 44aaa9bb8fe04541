package delivery

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/ratelimit"
	"github.com/uniasset/integrations/shared/webhook"
)

func never(time.Time) bool { return false }

// rmsg is a delivery message in the stall simulations.
type rmsg struct {
	k   Key
	w   webhook.Webhook
	due time.Time
}

// outage is how long before resume a stall began: a message due within it
// comes back at resume.
var outage = 1000 * time.Hour

// runSim is runSimKeep with every attempt's start, in order.
func runSim(t *testing.T, g *Gate, msgs []*rmsg, slowAt func(time.Time) bool, resume time.Time, end time.Time, nowp *time.Time) []time.Time {
	out := runSimKeep(t, g, &msgs, slowAt, resume, end, nowp)
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// A dispatcher stall brings a tenant's 50 slow webhooks' deliveries back
// late together: the tenant's slow share still bounds them (late ones by
// a late share of their own), at most twice its slots per timeout.
func TestGateStallKeepsTheTenantsSlowShare(t *testing.T) {
	now := g0
	g := &Gate{SendRate: 50, Timeout: 10 * time.Second, EndpointSlots: 5, TenantSlots: 50}
	g.Limits = &ratelimit.Memory{Now: func() time.Time { return now }}
	g.Sleep = func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil }
	var msgs []*rmsg
	for i, w := range hooksOf("a", 50) {
		for j := 0; j < 20; j++ {
			msgs = append(msgs, &rmsg{k: Key{TenantID: "a", WebhookID: w.ID, DeliveryID: string(rune(i*100 + j))}, w: w, due: g0})
		}
	}
	// first pass: everyone reserves at g0
	var first []*rmsg
	for _, m := range msgs {
		wait, _ := g.Pass(context.Background(), &m.k, m.w, 1, true, g0)
		if wait > 0 {
			m.due = g0.Add(wait)
			m.k.NotBefore = "x"
			first = append(first, m)
		}
	}
	outage = 150 * time.Second
	got := runSim(t, g, first, func(time.Time) bool { return true }, g0.Add(200*time.Second), g0.Add(600*time.Second), &now)
	outage = 1000 * time.Hour
	var after []time.Time
	for _, a := range got {
		if !a.Before(g0.Add(200 * time.Second)) {
			after = append(after, a)
		}
	}
	if most := mostPerTimeout(got, g.Timeout); most > 2*(g.TenantSlots+1) || len(after) == 0 {
		t.Fatalf("after a stall a tenant's slow webhooks started %d attempts within a timeout (bound %d), %d after it", most, 2*(g.TenantSlots+1), len(after))
	}
}

// Slots reserved at a webhook's rate do not carry over once it is marked
// slow: its parked backlog then passes the slow schedule.
func TestGateSlowMarkStartsTheStepsAgain(t *testing.T) {
	now := g0
	g := &Gate{SendRate: 50, Timeout: 10 * time.Second, EndpointSlots: 5, TenantSlots: 50}
	g.Limits = &ratelimit.Memory{Now: func() time.Time { return now }}
	g.Sleep = func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil }
	w := hooksOf("a", 1)[0]
	w.RateLimit = 100
	var parked []*rmsg
	for j := 0; j < 1000; j++ {
		m := &rmsg{k: Key{TenantID: "a", WebhookID: w.ID, DeliveryID: string(rune(j))}, w: w}
		wait, _ := g.Pass(context.Background(), &m.k, m.w, 1, false, g0)
		if wait > 0 {
			m.due = g0.Add(wait)
			m.k.NotBefore = "x"
			parked = append(parked, m)
		}
	}
	got := runSim(t, g, parked, func(time.Time) bool { return true }, g0, g0.Add(300*time.Second), &now)
	if most := mostPerTimeout(got, g.Timeout); most > g.EndpointSlots+1 || len(got) == 0 {
		t.Fatalf("a webhook marked slow with a parked backlog started %d attempts within a timeout (bound %d)", most, g.EndpointSlots+1)
	}
}

// Two stalls in a row: a delivery late a second time is paced too (it
// takes a late slot only if one is free now), so the receiver never sees
// much more than twice its rate.
func TestGateLateAgainIsPacedToo(t *testing.T) {
	now := g0
	g := &Gate{SendRate: 50, Timeout: 10 * time.Second, EndpointSlots: 5, TenantSlots: 50}
	g.Limits = &ratelimit.Memory{Now: func() time.Time { return now }}
	g.Sleep = func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil }
	w := hooksOf("a", 1)[0]
	w.RateLimit = 10
	var parked []*rmsg
	for j := 0; j < 3000; j++ {
		m := &rmsg{k: Key{TenantID: "a", WebhookID: w.ID, DeliveryID: string(rune(j))}, w: w}
		wait, _ := g.Pass(context.Background(), &m.k, m.w, 1, false, g0)
		if wait > 0 {
			m.due = g0.Add(wait)
			m.k.NotBefore = "x"
			parked = append(parked, m)
		}
	}
	// outage 1: g0+10..g0+70 ; then run to g0+100, then outage 2 g0+100..g0+160
	outage = 60 * time.Second
	var all []time.Time
	// phase 1
	p1 := runSimKeep(t, g, &parked, never, g0.Add(70*time.Second), g0.Add(100*time.Second), &now)
	outage = 60 * time.Second
	p2 := runSimKeep(t, g, &parked, never, g0.Add(160*time.Second), g0.Add(400*time.Second), &now)
	outage = 1000 * time.Hour
	all = append(p1, p2...)
	sort.Slice(all, func(i, j int) bool { return all[i].Before(all[j]) })
	// Within a second: the slots of up to two seconds (one back up to a
	// second late still uses its slot without more ado), and the late ones'
	// second of slots. Before late-again deliveries were paced: 318.
	if bound := (1 + 10*2) + (1 + 10); mostPerTimeout(all, time.Second) > bound || len(p2) == 0 {
		t.Fatalf("rate 10 across two stalls: %d attempts within a second (bound %d)", mostPerTimeout(all, time.Second), bound)
	}
}

// runSimKeep processes messages in due order until end, each passing the
// gate as the dispatcher does (a waiting one comes back at its time, or at
// resume if that fell in the stall), leaving the rest in msgs; it returns
// when each attempt started.
func runSimKeep(t *testing.T, g *Gate, msgs *[]*rmsg, slowAt func(time.Time) bool, resume, end time.Time, nowp *time.Time) []time.Time {
	var out []time.Time
	for len(*msgs) > 0 {
		sort.Slice(*msgs, func(i, j int) bool { return (*msgs)[i].due.Before((*msgs)[j].due) })
		m := (*msgs)[0]
		now := m.due
		if now.Before(resume) && now.After(resume.Add(-outage)) {
			now = resume
		}
		if now.After(end) {
			break
		}
		*msgs = (*msgs)[1:]
		*nowp = now
		if m.k.NotBefore != "" {
			m.k.Back(m.due, now)
		}
		wait, err := g.Pass(context.Background(), &m.k, m.w, 1, slowAt(now), now)
		if err != nil {
			t.Fatal(err)
		}
		if wait > 0 {
			m.due = now.Add(wait)
			m.k.NotBefore = "x"
			*msgs = append(*msgs, m)
			continue
		}
		out = append(out, *nowp)
	}
	return out
}
