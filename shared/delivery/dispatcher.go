package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/metrics"
	"github.com/uniasset/integrations/shared/parallel"
	"github.com/uniasset/integrations/shared/redact"
	"github.com/uniasset/integrations/shared/safehttp"
	"github.com/uniasset/integrations/shared/tenant"
	"github.com/uniasset/integrations/shared/webhook"
)

// keptResponse is how much of a receiver's answer the record keeps.
const keptResponse = 1024

// Dispatcher drains DeliveryQueue: it sends each attempt, records it, and
// schedules the next through the message's visibility.
type Dispatcher struct {
	Deliveries  *Store
	Webhooks    *webhook.Store
	Queue       *Queue
	Client      *http.Client // shared: it pools connections across invocations
	Timeout     time.Duration
	Schedule    []time.Duration
	Now         func() time.Time
	Concurrency int
	// HoldMax is the longest wait kept in flight (see config.RetryHoldMax).
	HoldMax time.Duration
	// Gate bounds each receiver's and tenant's share (nil: no limits).
	Gate *Gate
	// Plans reads the tenant's plan with each webhook: deliveries of a
	// tenant moved below Enterprise are discarded.
	Plans *tenant.Store
	// Recoveries takes the steps of recoveries, which share the queue.
	Recoveries *Recoveries
	// DeadLetters is the sweep of DeliveryDLQ, run on a schedule.
	DeadLetters *DeadLetters
	// Disable is when a webhook that keeps failing is disabled.
	Disable webhook.DisableRule
	// HookTTL is how long an instance reuses a webhook it read (0: reads it
	// with every attempt).
	HookTTL time.Duration
	// Missing counts messages whose delivery record did not exist.
	Missing atomic.Int64
	// Ungrouped counts messages received without their tenant as message
	// group (a sender that bypassed Queue: the fair queue cannot tell them
	// apart). It is the local stack's check on every sender (its poller
	// asks for the attribute); AWS documents MessageGroupId in the
	// attributes Lambda passes for FIFO queues, not yet for fair queues, so
	// it is a test counter, not a metric.
	Ungrouped atomic.Int64
	// Deferred counts messages the gate made wait (not attempts).
	Deferred atomic.Int64
	// LateSlots counts deliveries that came back well after their slot.
	LateSlots atomic.Int64

	hooks hooks
}

// Invoke is the Lambda entry point: an SQS batch from DeliveryQueue, or
// the schedule's tick, which sweeps DeliveryDLQ.
func (d *Dispatcher) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err == nil && len(ev.Records) > 0 && ev.Records[0].EventSource == "aws:sqs" {
		return d.Handle(ctx, ev)
	}
	return d.SweepDeadLetters(ctx)
}

// SweepDeadLetters empties DeliveryDLQ (DeadLetters) and logs what it did.
func (d *Dispatcher) SweepDeadLetters(ctx context.Context) (Swept, error) {
	n, err := d.DeadLetters.Sweep(ctx)
	if n != (Swept{}) {
		slog.Warn("DeliveryDLQ swept", "requeued", n.Requeued, "ended", n.Ended, "settled", n.Settled, "steps", n.Steps,
			"stopped", n.Stopped, "malformed", n.Malformed, "failed", n.Failed)
	}
	return n, err
}

// Handle is the Lambda handler for an SQS batch. Messages whose next attempt
// is scheduled are reported as failures, so SQS keeps them (hidden until then).
func (d *Dispatcher) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	keep := make([]bool, len(ev.Records))
	for i := range keep {
		keep[i] = true // a message not reached (the invocation's end) stays in the queue
	}
	_ = parallel.Each(ctx, len(ev.Records), max(d.Concurrency, 1), func(ctx context.Context, i int) error {
		keep[i] = d.process(ctx, ev.Records[i])
		return nil // a message's trouble is its own: kept, not the batch's
	})
	var failures []events.SQSBatchItemFailure
	for i, m := range ev.Records {
		if keep[i] {
			failures = append(failures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return events.SQSEventResponse{BatchItemFailures: failures}, nil
}

// process handles one message and reports whether SQS must keep it.
func (d *Dispatcher) process(ctx context.Context, m events.SQSMessage) (keep bool) {
	log := slog.With("messageId", m.MessageId)
	// One decode: a delivery's key, or a recovery's step.
	var msg struct {
		Key
		recoveryMessage
	}
	err := json.Unmarshal([]byte(m.Body), &msg)
	if step := msg.Recovery; err == nil && step.ID != "" && d.Recoveries != nil {
		if err := d.Recoveries.Step(ctx, step.TenantID, step.ID); err != nil {
			log.Error("recovery step failed; SQS redelivers it", "tenantId", step.TenantID, "recoveryId", step.ID, "error", err.Error())
			return true
		}
		return false
	}
	k := msg.Key
	if err != nil || k.TenantID == "" || k.DeliveryID == "" || k.SK == "" || k.WebhookID == "" {
		log.Error("dropping malformed delivery message") // a retry cannot fix it
		return false
	}
	log = log.With("tenantId", k.TenantID, "deliveryId", k.DeliveryID)
	if m.EventSourceARN != "" && m.Attributes["MessageGroupId"] != k.TenantID { // from the queue, not a direct call
		d.Ungrouped.Add(1)
	}
	if k.NotBefore != "" {
		if at, err := isotime.Parse(k.NotBefore); err == nil {
			switch early := at.Sub(d.Now()); {
			case early >= time.Second:
				// Its slot is later (a delay is at most 15 minutes): wait again, reading nothing.
				return d.park(ctx, k, m.ReceiptHandle, early, log)
			case early > 0:
				if sleep(ctx, early) != nil {
					return true
				}
			case k.Back(at, d.Now()):
				d.LateSlots.Add(1)
			}
		}
	}
	keep, err = d.attempt(ctx, k, m.ReceiptHandle, log)
	if err != nil {
		// An outage of our own (DynamoDB, Secrets Manager): SQS redelivers after the visibility timeout.
		log.Error("delivery processing failed", "error", err.Error())
		return true
	}
	return keep
}

func (d *Dispatcher) attempt(ctx context.Context, k Key, receipt string, log *slog.Logger) (keep bool, err error) {
	var (
		hook    webhook.Fetched
		rec     Record
		found   bool
		cached  cachedHook
		profile tenant.Profile
	)
	now := d.Now()
	// A copy says only what to send: a webhook gone, paused or disabled, or
	// a tenant whose plan no longer has webhooks, is read again before its
	// delivery is discarded, so a resume (or a re-create, an upgrade)
	// within HookTTL loses nothing.
	if c, ok := d.hooks.get(k.TenantID, k.WebhookID, now, d.HookTTL); ok && c.hook.Found && c.hook.Status == webhook.Active && c.entitled {
		cached, hook = c, c.hook
		rec, found, err = d.Deliveries.Get(ctx, k)
	} else {
		rec, found, err = d.Deliveries.GetWith(ctx, k, d.Webhooks.Read(k.TenantID, k.WebhookID, &hook), d.Plans.Read(k.TenantID, &profile))
		entitled := profile.Plan.AtLeast(tenant.Enterprise)
		if err == nil && hook.Err == nil {
			d.hooks.put(k.TenantID, k.WebhookID, hook, entitled, now)
			cached = cachedHook{hook: hook, entitled: entitled, readAt: now, healthAt: now}
		}
	}
	if err != nil {
		return true, err
	}
	if !found {
		// Every message is sent after its record is written, and records are
		// never deleted: a message without one is a fault to look into.
		d.Missing.Add(1)
		metrics.Count(log, "MissingDeliveryRecords", "delivery record missing; message dropped", "webhookId", k.WebhookID, "sk", k.SK)
		return false, nil
	}
	if rec.Status != Pending || rec.WebhookID != k.WebhookID {
		return false, nil // already finished, discarded, or not this message's delivery
	}
	if rec.NextAttemptAt != "" {
		if next, perr := isotime.Parse(rec.NextAttemptAt); perr == nil && next.Sub(now) > time.Second {
			// Early: a parked retry hopping towards its time, a duplicate
			// copy, or a visibility change that did not stick. Wait again.
			return d.wait(ctx, k, receipt, next.Sub(now), log), nil
		} else if perr == nil && next.After(now) {
			// Less than SQS's one-second grain early: never before its time
			// (a receiver's Retry-After is a promise).
			if err := sleep(ctx, next.Sub(now)); err != nil {
				return true, err
			}
			now = d.Now()
		}
	}
	lease := d.Timeout + 5*time.Second
	discard := func(reason string) (bool, error) {
		inFlight, err := d.Deliveries.Discard(ctx, k, reason, now)
		if inFlight {
			// Another copy's attempt is under way; as for a lost claim, this
			// copy waits instead of deleting the message that attempt may retry with.
			return d.wait(ctx, k, receipt, lease, log), nil
		}
		return err != nil, err
	}
	switch {
	case !hook.Found:
		return discard("webhook deleted; delivery discarded")
	case hook.Err == nil && !cached.entitled && profile.TenantID != "":
		return discard("the tenant's plan no longer includes webhooks; delivery discarded")
	case hook.Err != nil:
		return true, fmt.Errorf("open webhook: %w", hook.Err)
	case hook.Status == webhook.Paused:
		return discard("webhook paused; delivery discarded")
	case hook.Status == webhook.Disabled:
		if !hook.DisabledNotified {
			d.notifyDisabled(ctx, hook.Webhook, log)
		}
		return discard("webhook disabled after sustained failure; delivery discarded")
	}
	w := hook.Webhook
	n := rec.Attempts + 1
	slow := w.SlowUntil > isotime.Format(now) || now.Sub(cached.slowSeen) < slowFor
	// held waits out its receiver's pause, if one is on: no attempt before
	// it ends. A slot held now was for during the pause, so the steps are
	// taken afresh. parked says the message was sent back to wait.
	held := func(until time.Time) (parked, keep bool, err error) {
		if !until.After(now) {
			return false, false, nil
		}
		k.Gate, k.Late = 0, 0
		if wait := until.Sub(now); wait >= time.Second {
			d.Deferred.Add(1)
			k.NotBefore = isotime.Format(until)
			d.listWaiting(ctx, k, rec, log)
			return true, d.park(ctx, k, receipt, wait, log), nil
		} else if err := sleep(ctx, wait); err != nil {
			return true, true, err
		}
		now = d.Now()
		return false, false, nil
	}
	for pass := 0; ; pass++ {
		if until, perr := isotime.Parse(w.HoldUntil); perr == nil {
			if parked, keep, err := held(until); parked {
				return keep, err
			}
		}
		wait, err := d.Gate.Pass(ctx, &k, w, n, slow, now)
		if err != nil {
			return true, err
		} else if wait > 0 {
			d.Deferred.Add(1)
			k.NotBefore = isotime.Format(now.Add(wait))
			d.listWaiting(ctx, k, rec, log)
			return d.park(ctx, k, receipt, wait, log), nil
		}
		// Pass may have waited (under a second) for its slot, and another
		// attempt's 429 may have asked for a pause meanwhile: this
		// instance's copy has it at once. Once more at most, so a pause
		// renewed over and over parks the message rather than spin here.
		now = d.Now()
		if pass > 0 || !d.hooks.heldPast(w, now) {
			break
		}
		w.HoldUntil = d.hooks.holdUntil(w)
	}
	// Past the gate: a retry of this delivery is not back for a slot.
	k.NotBefore, k.Late = "", 0
	won, err := d.Deliveries.Claim(ctx, k, n, now, lease)
	if err != nil {
		return true, err
	}
	if !won {
		// Another copy holds this attempt. This one stays, hidden until the
		// attempt is over, and then finds the outcome: SQS may have given both
		// copies one message, and deleting it here would take the holder's
		// scheduled retry with it.
		return d.wait(ctx, k, receipt, lease, log), nil
	}

	status, respBody, retryAfter, sendErr, took := d.send(ctx, w, rec, now, slow)
	a := Attempt{N: n, At: isotime.Format(now), StatusCode: status, DurationMs: took.Milliseconds()}
	v := Judge(status, sendErr, func() (time.Duration, bool) { return rec.Retry(d.Schedule, n) })
	a.Error = v.Error
	if retryAfter > 0 {
		// The receiver asked for a pause: this delivery retries no sooner, and
		// the webhook's other deliveries wait as long (not as attempts).
		if v.Status == Pending {
			v.RetryIn = max(v.RetryIn, retryAfter)
		}
		until := d.Now().Add(retryAfter) // from the answer, not the attempt's start
		// Deliveries that already hold a slot wait too: at once on this
		// instance (first, before the writes below), and on others once
		// they read the webhook again.
		d.hooks.update(w, func(e *cachedHook) {
			if e.hook.HoldUntil < isotime.Format(until) {
				e.hook.HoldUntil = isotime.Format(until)
			}
		})
		if err := d.Gate.Hold(ctx, w, slow, until); err != nil {
			log.Warn("holding a webhook's deliveries for its Retry-After failed", "webhookId", w.ID, "error", err.Error())
		}
		if err := d.Webhooks.Hold(ctx, w, until); err != nil {
			log.Warn("recording a receiver's Retry-After failed", "webhookId", w.ID, "error", err.Error())
		}
	}
	if slow && sendErr == nil && status >= 200 && status < 300 && took < d.slowAfter()/2 {
		d.clearSlow(ctx, w, log)
	}
	o := Outcome{Attempt: a, ResponseBody: respBody, Status: v.Status}
	retryIn := v.RetryIn
	if v.Status == Pending {
		from := now
		if retryAfter > 0 {
			from = d.Now() // a receiver's pause runs from its answer
		}
		o.NextAttemptAt = isotime.Format(from.Add(retryIn))
	}
	log.Info("delivery attempt", "webhookId", w.ID, "event", rec.Event, "attempt", n, "status", o.Status, "httpStatus", status, "durationMs", a.DurationMs)
	if err := d.Deliveries.Finish(ctx, k, o); err != nil {
		return true, err
	}
	if retryIn > 0 {
		keep = d.wait(ctx, k, receipt, retryIn, log)
	}
	outcome := webhook.OutcomeDelivered
	if o.Status != Delivered {
		outcome = webhook.OutcomeFailed
		d.judgeFailure(ctx, w, a.Error, now, log)
	}
	if !w.NeedsOutcome(outcome, now) {
		// w's health was read at healthAt; a concurrent attempt may have
		// changed the badge since. Skipping the write on an old copy could
		// leave the badge on an earlier attempt's outcome, so a copy older
		// than a second is read again (a read, not a write: the webhook's
		// partition is the tenant's, and its write budget is what the skip
		// saves). At most one read a second per instance, whatever the traffic.
		if d.Now().Sub(cached.healthAt) < healthRecheck {
			return keep, nil
		}
		fresh, found, err := d.Webhooks.Fresh(ctx, w)
		if err != nil {
			log.Warn("re-reading webhook health failed; not writing it", "webhookId", w.ID, "error", err.Error())
			return keep, nil
		}
		d.hooks.update(w, func(e *cachedHook) {
			e.hook.LastDeliveryStatus, e.hook.LastDeliveryAt, e.healthAt = fresh.LastDeliveryStatus, fresh.LastDeliveryAt, d.Now()
		})
		if !found || !fresh.NeedsOutcome(outcome, now) {
			return keep, nil
		}
		w = fresh
	}
	detail := fmt.Sprintf("%s delivered on attempt %d", rec.Event, n)
	if outcome == webhook.OutcomeFailed {
		detail = fmt.Sprintf("%s attempt %d failed: %s", rec.Event, n, o.Attempt.Error)
	}
	// The delivery itself is settled above; a redelivered message would find
	// it finished and not record health either, so the health write is tried
	// a few times here, then logged rather than returned (which would only
	// hold the message in SQS).
	for try := 1; ; try++ {
		err := d.Webhooks.RecordOutcome(ctx, w, outcome, now, detail)
		if err == nil {
			d.hooks.update(w, func(e *cachedHook) {
				if e.hook.LastDeliveryAt <= isotime.Format(now) {
					e.hook.LastDeliveryStatus, e.hook.LastDeliveryAt, e.healthAt = outcome, isotime.Format(now), d.Now()
				}
			})
			break
		}
		if try == healthTries || ctx.Err() != nil {
			log.Error("recording webhook health failed", "webhookId", w.ID, "error", err.Error())
			break
		}
		dynamo.BackOff(ctx, try+2) // 80–160 ms, then 160–320 ms; no longer than the invocation
	}
	return keep, nil
}

// lateSlot is how late a delivery may come back for its reserved slot and
// use it without more ado (SQS's delays and polls are that coarse).
const lateSlot = time.Second

// healthTries bounds the attempts at writing a webhook's health change.
const healthTries = 3

// healthRecheck is how old a copy of a webhook's health may be for an
// attempt to skip writing the same outcome.
const healthRecheck = time.Second

// listWaiting shows a delivery that waits for its turn before it has had
// an outcome under its webhook's filter (Store.List: a record enters the
// index at its first outcome otherwise). Best effort: a failure only
// leaves it out of the filter until then.
func (d *Dispatcher) listWaiting(ctx context.Context, k Key, rec Record, log *slog.Logger) {
	if rec.ByResourcePK != "" {
		return
	}
	if err := d.Deliveries.List(ctx, k); err != nil {
		log.Warn("listing a waiting delivery under its webhook failed", "error", err.Error())
	}
}

// park sends k again, visible after due (at most SQS's 15 minutes; a later
// slot is waited for again on arrival), and lets the received copy go. The
// new message carries what k has passed at the gate, which a hidden copy
// could not. If the send fails, the received copy is held instead and
// passes the gate again when it returns.
func (d *Dispatcher) park(ctx context.Context, k Key, receipt string, due time.Duration, log *slog.Logger) (keep bool) {
	if err := d.Queue.SendDelayed(ctx, k, due); err == nil {
		return false
	} else {
		log.Warn("re-queueing a delivery for its slot failed; holding it in flight instead", "error", err.Error())
	}
	if err := d.Queue.Delay(ctx, receipt, min(due, d.HoldMax)); err != nil {
		log.Error("holding a delivery failed; SQS redelivers after the visibility timeout", "error", err.Error())
	}
	return true
}

func (d *Dispatcher) slowAfter() time.Duration {
	if d.Gate == nil || d.Gate.SlowAfter <= 0 {
		return d.Timeout
	}
	return d.Gate.SlowAfter
}

// markSlow records that w's receiver has kept an attempt waiting SlowAfter:
// at once in this instance, and on the webhook (at most once per half mark)
// for the others.
func (d *Dispatcher) markSlow(ctx context.Context, w webhook.Webhook, log *slog.Logger) {
	now := d.Now()
	d.hooks.update(w, func(e *cachedHook) { e.slowSeen = now })
	if w.SlowUntil > isotime.Format(now.Add(slowFor/2)) {
		return
	}
	wrote, err := d.Webhooks.MarkSlow(ctx, w, now.Add(slowFor), now.Add(slowFor/2))
	if err != nil {
		log.Warn("marking a webhook slow failed", "webhookId", w.ID, "error", err.Error())
		return
	}
	if wrote {
		metrics.Count(log, "SlowWebhooks", "webhook marked slow: its share of the dispatcher is bounded", "webhookId", w.ID)
	}
}

// clearSlow lifts w's slow mark once its receiver answers promptly again.
func (d *Dispatcher) clearSlow(ctx context.Context, w webhook.Webhook, log *slog.Logger) {
	d.hooks.update(w, func(e *cachedHook) { e.slowSeen, e.hook.SlowUntil = time.Time{}, "" })
	if w.SlowUntil == "" {
		return
	}
	if err := d.Webhooks.ClearSlow(ctx, w); err != nil {
		log.Warn("clearing a webhook's slow mark failed", "webhookId", w.ID, "error", err.Error())
	}
}

// wait holds message k until due (d from now) and reports whether SQS must
// keep the received copy. A wait up to HoldMax stays in flight (the message
// is hidden for d); a longer one leaves the in-flight set: a new message is
// sent with a delay of up to 15 minutes (re-delayed on arrival until due) and
// the received one is let go. Each way falls back on the other: a receipt
// handle can be stale (SQS delivered the message twice and the other copy
// was deleted), and a retry must never hang on it.
func (d *Dispatcher) wait(ctx context.Context, k Key, receipt string, due time.Duration, log *slog.Logger) (keep bool) {
	park := func() error { return d.Queue.SendDelayed(ctx, k, due) }
	hold := func() error { return d.Queue.Delay(ctx, receipt, due) }
	if due > d.HoldMax {
		err := park()
		if err == nil {
			return false
		}
		log.Warn("parking a retry failed; holding it in flight instead", "error", err.Error())
		if err := hold(); err != nil {
			log.Error("scheduling retry failed; SQS redelivers after the visibility timeout", "error", err.Error())
		}
		return true
	}
	err := hold()
	if err == nil {
		return true
	}
	log.Warn("holding a retry in flight failed; sending a delayed copy instead", "error", err.Error())
	if err := park(); err != nil {
		log.Error("scheduling retry failed; SQS redelivers after the visibility timeout", "error", err.Error())
		return true
	}
	return false
}

// send makes one POST and describes what happened without leaking internals.
// An answer that takes SlowAfter marks the webhook slow as soon as it does,
// not when the attempt ends, so its next deliveries are gated at once.
func (d *Dispatcher) send(ctx context.Context, w webhook.Webhook, rec Record, now time.Time, slow bool) (status int, body string, retryAfter time.Duration, err error, took time.Duration) {
	{ // also while slow: an attempt still unanswered renews the mark (markSlow writes at most once per half mark)
		log := slog.With("tenantId", w.TenantID, "deliveryId", rec.DeliveryID)
		markCtx := context.WithoutCancel(ctx)
		marked := make(chan struct{})
		timer := time.AfterFunc(d.slowAfter(), func() {
			defer close(marked)
			mctx, cancel := context.WithTimeout(markCtx, 5*time.Second)
			defer cancel()
			d.markSlow(mctx, w, log)
		})
		defer func() {
			if !timer.Stop() {
				// The mark is being written: the invocation must not end (and
				// Lambda freeze it) before it is.
				<-marked
			}
		}()
	}
	// From now (taken before the claim), so the POST ends inside the claim's lease.
	ctx, cancel := context.WithDeadline(ctx, now.Add(d.Timeout))
	defer cancel()
	payload := []byte(rec.Payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(payload))
	if err != nil {
		return 0, "", 0, errors.New("invalid URL"), 0
	}
	for name, value := range w.Headers {
		req.Header.Set(name, value)
	}
	for name, value := range Headers(w.SigningSecrets(now), rec.DeliveryID, rec.Event, payload, now) {
		req.Header.Set(name, value)
	}
	start := time.Now()
	resp, err := d.Client.Do(req)
	took = time.Since(start)
	if err != nil {
		return 0, "", 0, describe(err), took
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, keptResponse))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // drain a little so the connection can be reused
	return resp.StatusCode, keep(raw), RetryAfter(resp.StatusCode, resp.Header, d.Now()), nil, took
}

// keep stores the start of a response body with secrets redacted by name and
// by value (as JSON when it parses, as text when it is not JSON or was cut
// short). A body cut at the limit loses the digits it was cut in: the start of
// a card number is no card to the redaction, and still more of one than may be kept.
func keep(raw []byte) string {
	if len(raw) >= keptResponse {
		raw = bytes.TrimRightFunc(raw, func(r rune) bool { return unicode.IsDigit(r) || r == ' ' || r == '-' || r == '.' })
	}
	return redact.JSON(raw)
}

// describe turns a transport error into a message for the activity log.
func describe(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, safehttp.ErrBlocked):
		return errors.New("refused: the URL resolves to a non-public address")
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return errors.New("timeout: no response within the delivery timeout")
	case strings.Contains(err.Error(), "connection refused"):
		return errors.New("connection refused")
	case strings.Contains(err.Error(), "no such host"):
		return errors.New("DNS lookup failed")
	case strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:"):
		return errors.New("TLS handshake failed: " + redact.String(lastPart(err.Error())))
	default:
		// The text can quote what the receiver sent (a malformed header line):
		// it is the receiver's, and redacted like its body.
		return errors.New("connection failed: " + redact.String(lastPart(err.Error())))
	}
}

func lastPart(s string) string {
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}
