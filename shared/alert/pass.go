package alert

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/uniasset/integrations/shared/apikey"
	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/metrics"
	"github.com/uniasset/integrations/shared/parallel"
	"github.com/uniasset/integrations/shared/webhook"
)

// PassLag is how far behind now a pass looks: the stream indexes a date
// before weighing whether its milestones are due, so by the time a pass
// looks at a moment, every entry whose milestone falls before it is stored.
const PassLag = 2 * time.Minute

// FirstPass is how far back the very first pass looks (no watermark yet).
const FirstPass = time.Hour

// Pass is one run of ExpiryAlertsFunction: it fires the milestones whose
// time came since the last pass (the watermark), reading only the index
// entries whose dates put a milestone in that stretch, the catch-ups a
// grown lead time left and the alerts kept for a retry. A pass that fails
// or runs out of time leaves the watermark just before the first candidate
// it did not finish, so the next one goes on from there (markers keep every
// alert to once); a missed run is caught up, up to MaxLateness.
type Pass struct {
	Index    *Index
	Settings *SettingsStore
	Items    *asset.Items // each candidate is read to check its date still holds
	Webhooks Subscriptions
	Firer    *Firer
	Retries  *Retries // alerts failing for their item alone, kept for later passes
	Now      func() time.Time
	// Backfill indexes dates written before the index, a stretch of the
	// table per Handle (nil: none). Run, which tests call as of other times,
	// leaves it alone: it works as of the real now.
	Backfill *Backfill
	// Watermark is how far the passes have looked.
	Watermark Watermark
	// KeyNotices writes the Activity Log's notices of API keys expiring
	// and expired (nil: none), with each pass that finishes its own work.
	KeyNotices *apikey.Notices
}

// Result says what a pass did.
type Result struct {
	From, To   time.Time
	Candidates int // index entries read (after each tenant's lead time is applied)
	Stale      int // entries whose item no longer has the date (moved, removed, performed)
	Fired      int // alerts queued
	Unreadable int // candidates skipped because their item could not be decoded
	// Failed candidates were kept for a retry (their item failed alone:
	// Unreadable ones among them).
	Failed int
	// Unfinished candidates were left for the next pass (out of time, or an
	// outage); Watermark is where the next pass starts.
	Unfinished int
	Watermark  time.Time
}

// Handle is the Lambda handler: EventBridge Scheduler's event carries nothing the pass needs.
func (p *Pass) Handle(ctx context.Context, _ json.RawMessage) error {
	r, err := p.Run(ctx, p.Now())
	if err != nil {
		return err
	}
	slog.Info("alert pass", "from", isotime.Format(r.From), "to", isotime.Format(r.To), "watermark", isotime.Format(r.Watermark), "candidates", r.Candidates,
		"stale", r.Stale, "unreadable", r.Unreadable, "failed", r.Failed, "unfinished", r.Unfinished, "fired", r.Fired)
	if r.Unfinished > 0 { // the alerts due come first
		return nil
	}
	// Alerts whose run died between marker and deliveries (here or in the
	// stream router): finished to the webhooks they named, within the
	// time the backfill would have.
	sctx, cancel := context.WithTimeout(ctx, backfillBudget(ctx, time.Now()))
	stuck, err := p.Firer.FinishStuck(sctx, p.Now(), func(tenantID string) ([]webhook.Webhook, error) {
		return readable(sctx, p.Webhooks, tenantID)
	})
	cancel()
	if stuck > 0 {
		slog.Warn("alert pass: finished alerts a run left firing", "alerts", stuck)
	}
	if err != nil {
		slog.Error("alert pass: some alerts left firing were not finished; the next pass tries again", "error", err.Error())
	}
	if p.KeyNotices != nil {
		n, err := p.KeyNotices.Run(ctx, p.Now())
		if n > 0 {
			slog.Info("alert pass: API key expiry notices written", "notices", n)
		}
		if err != nil {
			slog.Error("alert pass: some API key expiry notices failed; the next pass tries again", "error", err.Error())
		}
	}
	if p.Backfill == nil {
		return nil
	}
	b, err := p.Backfill.Step(ctx, p.Now(), backfillBudget(ctx, time.Now()))
	if b.Scanned > 0 {
		slog.Info("alert backfill", "scanned", b.Scanned, "indexed", b.Indexed, "done", b.Done)
	}
	return err
}

// BackfillPerPass is the longest a pass spends on the backfill.
const BackfillPerPass = 2 * time.Minute

// backfillBudget is BackfillPerPass, or half the time the invocation has
// left if that is less: the pass must end before Lambda stops it.
func backfillBudget(ctx context.Context, now time.Time) time.Duration {
	budget := BackfillPerPass
	if deadline, ok := ctx.Deadline(); ok {
		budget = min(budget, deadline.Sub(now)/2)
	}
	return max(budget, 0)
}

// Run makes one pass as of now. It works through its candidates in the
// order of the milestone times that made them candidates, a chunk at a
// time, and moves the watermark to just before the first one not done: a
// pass that runs out of time (its context's deadline, less passSaveMargin)
// or meets an outage keeps what it finished, and the next pass goes on from
// there. A candidate failing for its item alone is kept for a
// retry (Retries) and counts as done.
func (p *Pass) Run(ctx context.Context, now time.Time) (Result, error) {
	to := now.Add(-PassLag)
	from, err := p.Watermark.From(ctx, to)
	if err != nil {
		return Result{}, err
	}
	res := Result{From: from, To: to}
	all, err := p.Settings.All(ctx)
	if err != nil {
		return res, err
	}
	leadsOf := func(tenantID string) Leads {
		if st, ok := all[tenantID]; ok {
			return st.Leads
		}
		return DefaultLeads
	}
	inUse := map[Group][]time.Duration{}
	for _, g := range Groups {
		inUse[g] = append(inUse[g], DefaultLeads.Lead(g))
		for _, st := range all {
			inUse[g] = append(inUse[g], st.Lead(g))
		}
	}

	// Candidates: entries whose milestone falls in (from, to] under their
	// own tenant's lead time, each at that milestone's time; the catch-ups'
	// entries of their tenant and the alerts kept for a retry, at from (first).
	candidates := map[string]*candidate{} // by entry and date: a kept alert of a date since moved is met as stale
	add := func(e Entry, at time.Time, retry *Retry) {
		c := candidates[e.ID()+"#"+e.DueAt]
		if c == nil {
			c = &candidate{Entry: e, at: at}
			candidates[e.ID()+"#"+e.DueAt] = c
		}
		c.at = minTime(c.at, at)
		if retry != nil {
			c.retry = retry
		}
	}
	for _, w := range Crossings(from, to, inUse) {
		es, err := p.Index.Between(ctx, w)
		if err != nil {
			return res, err
		}
		for _, e := range es {
			if due, err := isotime.Parse(e.DueAt); err == nil && (w.Lead == 0 || leadsOf(e.TenantID).Lead(w.Group) == w.Lead) {
				add(e, due.Add(-w.Lead), nil)
			}
		}
	}
	for _, st := range all {
		for g, c := range st.CatchUps {
			cf, err1 := isotime.Parse(c.From)
			ct, err2 := isotime.Parse(c.To)
			if err1 != nil || err2 != nil {
				continue
			}
			es, err := p.Index.TenantBetween(ctx, st.TenantID, Window{Group: g, From: cf, To: ct})
			if err != nil {
				return res, err
			}
			for _, e := range es {
				add(e, from, nil)
			}
		}
	}
	kept, err := p.Retries.All(ctx)
	if err != nil {
		return res, err
	}
	for i, k := range kept {
		if k.Due(now) {
			add(k.Entry, from, &kept[i])
		} else if c := candidates[k.ID()+"#"+k.DueAt]; c != nil {
			c.retry = &kept[i] // met again before its wait is over: its attempts go on counting
		}
	}
	res.Candidates = len(candidates)
	ordered := slices.SortedFunc(maps.Values(candidates), func(a, b *candidate) int {
		return cmp.Or(a.at.Compare(b.at), strings.Compare(a.ID(), b.ID()))
	})

	// Work stops in time to save the progress it made.
	work, stop := context.WithCancel(ctx)
	if deadline, ok := ctx.Deadline(); ok {
		work, stop = context.WithDeadline(ctx, deadline.Add(-passSaveMargin))
	}
	defer stop()
	tenants := map[string][]webhook.Webhook{}
	var failure error
	for start := 0; start < len(ordered) && failure == nil && work.Err() == nil; start += passChunk {
		failure = p.chunk(work, ordered[start:min(start+passChunk, len(ordered))], leadsOf, tenants, now, to, &res)
	}
	if work.Err() != nil {
		failure = nil // out of time, not failed: the next pass goes on from the watermark
	}
	mark := to
	if first := slices.IndexFunc(ordered, func(c *candidate) bool { return !c.done }); first >= 0 {
		mark = ordered[first].at.Add(-time.Millisecond) // everything before it is done
		for _, c := range ordered[first:] {
			if !c.done {
				res.Unfinished++
			}
		}
	}
	// Saved even when ctx is done: that is when it matters most.
	save, cancel := context.WithTimeout(context.WithoutCancel(ctx), passSaveMargin)
	defer cancel()
	if res.Unfinished == 0 {
		for _, st := range all {
			if err := p.Settings.Settled(save, st); err != nil {
				return res, err
			}
		}
	}
	if mark.After(from) {
		if err := p.Watermark.Advance(save, mark); err != nil {
			return res, err
		}
	}
	res.Watermark = maxTime(mark, from)
	return res, failure
}

// passChunk is how many candidates a pass reads and fires between two
// looks at its deadline; passSaveMargin is the time it keeps to record its
// progress before the deadline.
const (
	passChunk      = 200
	passSaveMargin = 10 * time.Second
)

// candidate is an entry a pass looks at: at is the time of the milestone
// that made it one (the pass's start for catch-ups and retries).
type candidate struct {
	Entry
	at    time.Time
	retry *Retry // the kept alert it retries, if any
	done  bool   // fired, stale, not due, or kept for a retry
}

// chunk reads and fires a chunk of candidates, marking each one done that
// it finishes; it returns an outage (nothing is kept for a retry for it).
func (p *Pass) chunk(ctx context.Context, cs []*candidate, leadsOf func(string) Leads, tenants map[string][]webhook.Webhook, now, to time.Time, res *Result) error {
	entries := make([]Entry, len(cs))
	for i, c := range cs {
		entries[i] = c.Entry
	}
	items, err := p.read(ctx, entries)
	if err != nil {
		return err
	}
	// Jobs: the candidates with milestones due, and the kept alerts to
	// retry or drop.
	var jobs []firing
	var toList []string
	for _, c := range cs {
		item, assetItem := items[keyschema.Key{PK: c.ItemPK, SK: c.ItemSK}], items[keyschema.Key{PK: c.ItemPK, SK: keyschema.AssetSK}]
		j := firing{c: c}
		switch {
		case item == nil || assetItem == nil || !slices.ContainsFunc(Entries(item.Dates), c.Same):
			res.Stale++ // moved, removed or performed since: nothing to fire
		default:
			for _, m := range Milestones(c.Entry, leadsOf(c.TenantID)) {
				if m.Due(to) {
					j.due = append(j.due, m)
				}
			}
			if len(j.due) == 0 && c.retry != nil {
				// Kept until it could no longer be sent: given up, counted.
				metrics.Count(slog.Default(), MetricRetriesAbandoned, "alert kept for a retry given up: too late to send",
					"tenantId", c.TenantID, "assetId", c.AssetID, "itemSK", c.ItemSK, "dueAt", c.DueAt, "attempts", c.retry.Attempts)
			}
			if len(j.due) == 0 {
				break
			}
			if j.data, j.err = NewData(c.Entry, item, assetItem, now); j.err != nil {
				// An item this code cannot read (the main app wrote a field in
				// another type) must not hold up every other tenant's alerts.
				j.err = unreadable(j.err)
				res.Unreadable++
			} else if _, listed := tenants[c.TenantID]; !listed && !slices.Contains(toList, c.TenantID) {
				toList = append(toList, c.TenantID)
			}
		}
		if len(j.due) == 0 && c.retry == nil {
			c.done = true // nothing to fire, nothing kept
			continue
		}
		jobs = append(jobs, j)
	}
	if err := p.listHooks(ctx, toList, tenants); err != nil {
		return err
	}
	var fired, failed atomic.Int64
	err = parallel.Each(ctx, len(jobs), fireConcurrency, func(ctx context.Context, i int) error {
		j := jobs[i]
		err := j.err
		for _, m := range j.due {
			if err != nil {
				break
			}
			var ok bool
			if ok, err = p.Firer.Fire(ctx, m, j.data, tenants[j.c.TenantID], now); ok {
				fired.Add(1)
			}
		}
		switch reason, poisoned := Poisoned(err); {
		case poisoned:
			failed.Add(1)
			prior := 0
			if j.c.retry != nil {
				prior = j.c.retry.Attempts
			}
			err = p.Retries.Keep(ctx, j.c.Entry, prior, reason, now)
		case err == nil && j.c.retry != nil:
			err = p.Retries.Drop(ctx, j.c.Entry)
		}
		j.c.done = err == nil
		return err
	})
	res.Fired += int(fired.Load())
	res.Failed += int(failed.Load())
	return err
}

// firing is a candidate's milestones that are due, with their alert's data
// (or why it cannot be made).
type firing struct {
	c    *candidate
	due  []Milestone
	data Data
	err  error
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// fireConcurrency is how many candidates a pass fires at once: each alert
// is a few calls in a row (marker, delivery, queue, marker), so one at a
// time would leave a pass of 10,000 alerts waiting on the network for most
// of ExpiryAlertsFunction's timeout.
const fireConcurrency = 16

// listHooks lists each tenant's webhooks, fireConcurrency tenants at once,
// into tenants. A webhook whose item does not decode is left out and
// counted (CountUnreadable): the tenant's other webhooks get its alerts.
func (p *Pass) listHooks(ctx context.Context, ids []string, tenants map[string][]webhook.Webhook) error {
	lists := make([][]webhook.Webhook, len(ids))
	err := parallel.Each(ctx, len(ids), fireConcurrency, func(ctx context.Context, i int) (err error) {
		lists[i], err = readable(ctx, p.Webhooks, ids[i])
		return err
	})
	if err != nil {
		return err
	}
	for i, id := range ids {
		tenants[id] = lists[i]
	}
	return nil
}

// read fetches the candidates' items and their assets, decoded, 100 keys a
// batch.
func (p *Pass) read(ctx context.Context, es []Entry) (map[keyschema.Key]*asset.Item, error) {
	var keys []keyschema.Key
	seen := map[keyschema.Key]bool{}
	for _, e := range es {
		for _, k := range []keyschema.Key{{PK: e.ItemPK, SK: e.ItemSK}, {PK: e.ItemPK, SK: keyschema.AssetSK}} {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	return p.Items.Many(ctx, "read alert items", keys)
}
