package main

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/ratelimit"
	"github.com/uniasset/integrations/shared/webhook"
)

// The isolation section simulates the dispatcher in virtual time: moto
// answers ~100 calls a second, so 500 concurrent 10-second attempts cannot be
// shown against it. What is simulated is the queue (SQS: FIFO, or a fair
// queue that serves the tenant with the fewest messages in flight first), the
// 500 slots (MaximumConcurrency 50 × DISPATCH_CONCURRENCY 10) and the
// receivers; what decides is the dispatcher's own code — delivery.Gate over
// ratelimit.Memory (the GCRA the DynamoDB limiter runs), Judge and Backoff
// with the production schedule.

const (
	simSlots    = 500
	simTimeout  = 10 * time.Second
	simHealthy  = 100 * time.Millisecond // B's receiver answers in this
	simWritesA  = 2                      // A's writes a second, for simBurst
	simBurst    = 5 * time.Minute
	simWebhooks = 50 // A's, each never answering, each subscribed to every write
	simHorizon  = 60 * time.Hour
)

var simSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

type simMsg struct {
	k       delivery.Key
	w       webhook.Webhook
	written time.Time // when the write that made it happened
	visible time.Time
	tenant  string
	attempt int
	seq     int
	slotAt  time.Time // the slot it waits for at the gate (zero: none)
}

type simQueue []*simMsg

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if !q[i].visible.Equal(q[j].visible) {
		return q[i].visible.Before(q[j].visible)
	}
	return q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(*simMsg)) }
func (q *simQueue) Pop() any {
	old := *q
	m := old[len(old)-1]
	*q = old[:len(old)-1]
	return m
}

type simResult struct {
	bLatency             []time.Duration
	aSlotSeconds, aMost  float64
	aOnset               float64
	aCreated, aDelivered int
	aFailed, aPending    int
	aAttempts, deferrals int
	late                 int // deliveries back more than a second after their slot
}

// simulate runs one scenario: A's burst (unless quiet), B's steady writes,
// with or without the gate, with a FIFO or a fair queue.
func simulate(withA, gate, fair bool) simResult {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	var slept time.Duration
	var g *delivery.Gate
	if gate {
		g = &delivery.Gate{Limits: &ratelimit.Memory{Now: func() time.Time { return now.Add(slept) }}, SendRate: 50,
			Timeout: simTimeout, EndpointSlots: 5, TenantSlots: 50, SlowAfter: 2 * time.Second,
			Sleep: func(_ context.Context, d time.Duration) error { slept += d; return nil }}
	}
	var hooksA []webhook.Webhook
	for i := range simWebhooks {
		hooksA = append(hooksA, webhook.Webhook{TenantID: "A", ID: fmt.Sprintf("wh_a%d", i)})
	}
	hookB := webhook.Webhook{TenantID: "B", ID: "wh_b"}
	// slowKnown: when a webhook is known slow to every instance (an attempt
	// unanswered for SlowAfter marks it; other instances read the mark
	// within WEBHOOK_CACHE_TTL).
	slowKnown := map[string]time.Time{}

	var res simResult
	var waiting simQueue // not yet visible, by time
	seq := 0
	push := func(m *simMsg) { seq++; m.seq = seq; heap.Push(&waiting, m) }
	// Writes.
	for s := time.Duration(0); s < simBurst+time.Minute; s += time.Second {
		if withA && s < simBurst {
			for w := range simWritesA {
				at := t0.Add(s + time.Duration(w)*time.Second/simWritesA)
				for _, h := range hooksA {
					push(&simMsg{k: delivery.Key{TenantID: "A", WebhookID: h.ID, DeliveryID: fmt.Sprint(seq)}, w: h, written: at, visible: at, tenant: "A"})
					res.aCreated++
				}
			}
		}
		at := t0.Add(s + 300*time.Millisecond)
		push(&simMsg{k: delivery.Key{TenantID: "B", WebhookID: hookB.ID}, w: hookB, written: at, visible: at, tenant: "B"})
	}
	busy := &slotHeap{}
	ready := map[string][]*simMsg{} // visible, per tenant, in arrival order
	readyN := 0
	inFlight := map[string]int{}
	aBusy := 0
	lastT := now
	// A's slots are measured once the first minute (the onset, before its
	// webhooks are known slow) is over, until the end of its burst.
	from, to := t0.Add(time.Minute), t0.Add(simBurst)
	account := func(at time.Time) {
		lo, hi := later(lastT, from), at
		if hi.After(to) {
			hi = to
		}
		if hi.After(lo) {
			res.aSlotSeconds += float64(aBusy) * hi.Sub(lo).Seconds()
		}
		lastT = at
	}
	for now.Before(t0.Add(simHorizon)) && (waiting.Len() > 0 || readyN > 0 || busy.Len() > 0) {
		account(now)
		// Attempts that end now.
		for busy.Len() > 0 && !(*busy)[0].until.After(now) {
			s := heap.Pop(busy).(slotEnd)
			m := s.m
			inFlight[m.tenant]--
			if m.tenant == "A" {
				aBusy--
			}
			status, err := 200, error(nil)
			if !s.answer {
				status, err = 0, context.DeadlineExceeded
			}
			v := delivery.Judge(status, err, func() (time.Duration, bool) { return delivery.Backoff(simSchedule, m.attempt) })
			switch {
			case v.Status == delivery.Delivered && m.tenant == "B":
				res.bLatency = append(res.bLatency, now.Sub(m.written))
			case v.Status == delivery.Delivered:
				res.aDelivered++
			case v.Status == delivery.Failed && m.tenant == "A":
				res.aFailed++
			case v.Status == delivery.Pending:
				m.visible = now.Add(v.RetryIn)
				push(m)
			}
		}
		// Messages that become visible.
		for waiting.Len() > 0 && !waiting[0].visible.After(now) {
			m := heap.Pop(&waiting).(*simMsg)
			ready[m.tenant] = append(ready[m.tenant], m)
			readyN++
		}
		// Free slots take visible messages: the oldest (FIFO), or the
		// quietest tenant's oldest (fair).
		for busy.Len() < simSlots && readyN > 0 {
			pick := ""
			for t, q := range ready {
				if len(q) == 0 {
					continue
				}
				switch {
				case pick == "":
					pick = t
				case fair && inFlight[t] != inFlight[pick]:
					if inFlight[t] < inFlight[pick] {
						pick = t
					}
				case q[0].seq < ready[pick][0].seq:
					pick = t
				}
			}
			m := ready[pick][0]
			ready[pick] = ready[pick][1:]
			readyN--
			slow := !slowKnown[m.w.ID].IsZero() && !now.Before(slowKnown[m.w.ID])
			// As the dispatcher does: one back late for its slot (the slots
			// were busy when it became visible) keeps it but is paced.
			if !m.slotAt.IsZero() && m.k.Back(m.slotAt, now) {
				res.late++
			}
			slept = 0
			wait, _ := g.Pass(context.Background(), &m.k, m.w, m.attempt+1, slow, now)
			if wait > 0 {
				res.deferrals++
				m.visible = now.Add(slept + wait)
				m.slotAt = m.visible
				push(m)
				continue
			}
			m.slotAt = time.Time{}
			start := now.Add(slept)
			m.attempt++
			answer := m.tenant == "B"
			until := start.Add(simHealthy)
			if !answer {
				until = start.Add(simTimeout)
				res.aAttempts++
				if slowKnown[m.w.ID].IsZero() {
					slowKnown[m.w.ID] = start.Add(2*time.Second + 5*time.Second)
				}
				aBusy++
				if now.Before(from) {
					res.aOnset = max(res.aOnset, float64(aBusy))
				} else if now.Before(to) {
					res.aMost = max(res.aMost, float64(aBusy))
				}
			}
			inFlight[m.tenant]++
			heap.Push(busy, slotEnd{until: until, m: m, answer: answer})
		}
		// Nothing more can start now: jump to the next event.
		next := t0.Add(simHorizon)
		if waiting.Len() > 0 && waiting[0].visible.Before(next) {
			next = waiting[0].visible
		}
		if busy.Len() > 0 && (*busy)[0].until.Before(next) {
			next = (*busy)[0].until
		}
		now = later(now.Add(time.Millisecond), next)
	}
	account(now)
	res.aPending = waiting.Len() + readyN + busy.Len()
	return res
}

type slotEnd struct {
	until  time.Time
	m      *simMsg
	answer bool
}

type slotHeap []slotEnd

func (h slotHeap) Len() int           { return len(h) }
func (h slotHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h slotHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *slotHeap) Push(x any)        { *h = append(*h, x.(slotEnd)) }
func (h *slotHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func isolation(doc *bytes.Buffer) error {
	alone := simulate(false, true, true)
	shared := simulate(true, true, true)
	fifo := simulate(true, true, false)
	before := simulate(true, false, false)
	p := func(r simResult, q float64) time.Duration { return percentile(r.bLatency, q) }
	ratio50 := float64(p(shared, 0.5)) / float64(p(alone, 0.5))
	ratio95 := float64(p(shared, 0.95)) / float64(p(alone, 0.95))
	steady := (simBurst - time.Minute).Seconds()
	fmt.Fprintf(doc, `
## Isolation: a tenant with 50 dead receivers beside a healthy one

Method: the dispatcher's own decisions (delivery.Gate over ratelimit.Memory, the same GCRA the
DynamoDB limiter runs; Judge and Backoff with the production schedule 5s,5m,30m,2h,5h,10h,10h)
in a simulation in virtual time, because moto answers about 100 calls a second and could not hold
500 ten-second attempts. Simulated: the queue (a fair queue serving the tenant with the fewest
messages in flight first, as SQS fair queues do; or FIFO), %d dispatcher slots (MaximumConcurrency
50 × DISPATCH_CONCURRENCY 10), and the receivers. Tenant A: %d webhooks whose receivers accept and
never answer (each attempt holds its slot the full %v), every one subscribed to every write, %d
writes a second for %v (%d deliveries). Tenant B: one healthy webhook (answers in %v), one write a
second. A webhook is known slow to every instance 7 s after an attempt begins (SLOW_AFTER 2 s, then
WEBHOOK_CACHE_TTL 5 s); defaults SEND_RATE 50, SLOW_ENDPOINT_SLOTS 5, SLOW_TENANT_SLOTS 50.
The simulation runs until every delivery has ended (%v of virtual time at most).

| scenario | B's write→delivery p50 | p95 | max | A's slots: mean, most (minute 1 to the burst's end) | A's slots, most in the first minute | A's attempts | gate deferrals |
|---|---|---|---|---|---|---|---|
| B alone | %v | %v | %v | – | – | – | %d |
| A beside B (gate, fair queue) | %v | %v | %v | %.1f, %.0f | %.0f | %d | %d |
| A beside B, gate alone (a FIFO queue) | %v | %v | %v | %.1f, %.0f | %.0f | %d | %d |
| A beside B, before this change (no gate, FIFO) | %v | %v | %v | %.1f, %.0f | %.0f | %d | – |

B's latency under A's load, as a ratio to B alone: **p50 %.2f, p95 %.2f** (goal ≤ 1.5); with
the gate but a FIFO queue: p50 %.2f, p95 %.2f; before this change: p50 %.1f, p95 %.1f.
Nothing of A's is lost (the scenario with the gate): %d deliveries made; %d ended delivered, %d
failed after their whole schedule, %d still pending when the simulation ended. The max is the
onset: for the first seconds, before A's webhooks are known slow, A's attempts take every slot
and B waits for one to free. Each deferral is a message sent
again with a delay (an SQS send and receive, and no DynamoDB write when the instance's remembered
TAT already refuses): the cost of a dead receiver's backlog, which auto-disable (issue 23) cuts.
Deliveries back more than a second after their slot (every dispatcher slot busy when they became
visible): %d with the gate and a fair queue, %d with a FIFO queue; each kept its slot and passed
the late step (paced at its webhook's rate among the late ones), none took a later slot.
`, simSlots, simWebhooks, simTimeout, simWritesA, simBurst, shared.aCreated, simHealthy, simHorizon,
		p(alone, 0.5), p(alone, 0.95), p(alone, 1), alone.deferrals,
		p(shared, 0.5), p(shared, 0.95), p(shared, 1), shared.aSlotSeconds/steady, shared.aMost, shared.aOnset, shared.aAttempts, shared.deferrals,
		p(fifo, 0.5), p(fifo, 0.95), p(fifo, 1), fifo.aSlotSeconds/steady, fifo.aMost, fifo.aOnset, fifo.aAttempts, fifo.deferrals,
		p(before, 0.5), p(before, 0.95), p(before, 1), before.aSlotSeconds/steady, before.aMost, before.aOnset, before.aAttempts,
		ratio50, ratio95,
		float64(p(fifo, 0.5))/float64(p(alone, 0.5)), float64(p(fifo, 0.95))/float64(p(alone, 0.95)),
		float64(p(before, 0.5))/float64(p(alone, 0.5)), float64(p(before, 0.95))/float64(p(alone, 0.95)),
		shared.aCreated, shared.aDelivered, shared.aFailed, shared.aPending, shared.late, fifo.late)
	if shared.aDelivered+shared.aFailed+shared.aPending != shared.aCreated {
		return fmt.Errorf("A's deliveries do not add up: %+v", shared)
	}
	return nil
}
