package ratelimit

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/uniasset/integrations/shared/dynamo"
)

// group is the Reserves that may share a write: one limit of one item,
// with one horizon.
type group struct {
	key     Key
	limit   Limit
	horizon time.Duration
}

// reserved is what a waiting Reserve is answered.
type reserved struct {
	ok    bool
	start time.Time
	err   error
}

// coalesced is Reserve with Table.Coalesce: the first of a group writes
// alone; the ones that come while a write is out wait, and the one that
// wrote then takes all their slots in one more write (ReserveN's), round
// after round until none waits. Slots go to them in the order they came.
func (t *Table) coalesced(ctx context.Context, g group) (bool, time.Time, error) {
	t.gmu.Lock()
	if waiting, busy := t.groups[g]; busy {
		done := make(chan reserved, 1) // buffered: an answer to one gone is dropped
		t.groups[g] = append(waiting, done)
		t.gmu.Unlock()
		select {
		case r := <-done:
			return r.ok, r.start, r.err
		case <-ctx.Done():
			// Its slot, if taken, goes unused: the limit is met, not exceeded.
			return false, time.Time{}, ctx.Err()
		}
	}
	if t.groups == nil {
		t.groups = map[group][]chan reserved{}
	}
	t.groups[g] = nil
	t.gmu.Unlock()

	item, cs := cells(g.key, g.limit, nil)
	ok, start, _, err := t.reserve(ctx, item, cs, g.horizon)
	for {
		t.gmu.Lock()
		waiting := t.groups[g]
		if len(waiting) == 0 {
			delete(t.groups, g)
			t.gmu.Unlock()
			return ok, start, err
		}
		t.groups[g] = nil
		t.gmu.Unlock()
		starts, again, rerr := t.ReserveN(ctx, g.key, g.limit, g.horizon, len(waiting))
		for i, done := range waiting {
			switch {
			case rerr != nil:
				done <- reserved{err: rerr}
			case i < len(starts):
				done <- reserved{ok: true, start: starts[i]}
			default: // beyond the horizon (again), or a busy limit (zero: ask again shortly)
				done <- reserved{start: again}
			}
		}
	}
}

// ReserveN takes up to n consecutive slots of l (a limit of one item) in
// one conditional write, each starting within horizon of now, and returns
// their starts in order. Fewer than n are taken when the rest would start
// beyond the horizon: again is then when to ask for them. None are taken,
// and again is zero, when the item changed under every write tried (a busy
// limit: ask again shortly).
func (t *Table) ReserveN(ctx context.Context, key Key, l Limit, horizon time.Duration, n int) (starts []time.Time, again time.Time, err error) {
	item := key.item(0)
	hk := hintKey{item, "tat"}
	c := cell{attr: "tat", limit: l}
	every, tolerance := l.shard()
	clock := func() time.Time { return time.UnixMilli(t.now().UnixMilli()) } // the item keeps milliseconds
	// slot is when slot j after a TAT starts (Decide's rule, j intervals on).
	slot := func(tat, now time.Time, j int) time.Time {
		return later(now, later(tat, now).Add(time.Duration(j)*every-tolerance))
	}
	fit := func(tat, now time.Time) int {
		m := 0
		for m < n && slot(tat, now, m).Sub(now) <= horizon {
			m++
		}
		return m
	}
	now := clock()
	t.mu.Lock()
	tat := t.hint[hk]
	t.mu.Unlock()
	for try := range 3 { // as reserve: a guess is refused at most twice
		m := fit(tat, now)
		if m == 0 && try > 0 {
			if fresh := clock(); fresh.After(now) { // weigh a slow refused write at the time it is now
				now = fresh
				m = fit(tat, now)
			}
		}
		if m == 0 {
			return nil, slot(tat, now, 0).Add(-horizon), nil
		}
		in := updateSlots(item, []cell{c}, []time.Time{tat}, now, horizon, m)
		in.TableName = aws.String(t.Table)
		out, err := t.DB.UpdateItem(ctx, in)
		held, refused := dynamo.Refused(err)
		switch {
		case err == nil:
			got := tatOf(out.Attributes, "tat")
			t.remember(hk, got)
			base := got.Add(-time.Duration(m) * every)
			for j := range m {
				starts = append(starts, slot(base, now, j))
			}
			if m < n {
				again = slot(got, now, 0).Add(-horizon)
			}
			return starts, again, nil
		case refused:
			tat = tatOf(held, "tat")
			t.remember(hk, tat)
		default:
			return nil, time.Time{}, dynamo.Translate("take rate-limit slots", err)
		}
	}
	return nil, time.Time{}, nil
}
