// Package ratelimit is the one limiter every shared resource uses: a
// webhook's sends, a tenant's sends to slow receivers, a tenant's API
// requests, a webhook's test events. It is GCRA (the generic cell rate
// algorithm): a limit keeps one number, the theoretical arrival time (TAT)
// of the next event, in a DynamoDB item of its own. Taking a slot is one
// conditional UpdateItem in the common case, there is no window edge at
// which twice the rate gets through, and a caller that must wait learns
// exactly how long (Retry-After) instead of polling.
//
// Admit answers yes or no now (an API request: 429 with Retry-After).
// Reserve takes a slot in the future, up to a horizon, and says when it
// starts (a delivery: the message waits that long, then sends without
// asking again), so a backlog costs one write per event, never a write per
// poll. A limit may be spread over shards (items), each taking its share
// of the rate, so a busy limit never heats one partition.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/keyschema"
)

// Limit is Burst events at once, then one every Every on average.
type Limit struct {
	Every  time.Duration
	Burst  int // at least 1
	Shards int // items the limit is spread over (at least 1); each takes Every*Shards
}

// PerSecond is n events a second with a burst of burst, spread over enough
// shards that no item takes more than MaxItemRate writes a second.
func PerSecond(n float64, burst int) Limit {
	shards := max(1, int((n+MaxItemRate-1)/MaxItemRate))
	return Limit{Every: time.Duration(float64(time.Second) / n), Burst: max(burst, shards), Shards: shards}
}

// MaxItemRate bounds the writes a second one shard takes: DynamoDB serves
// about 1,000 write units a second per partition, and a shard is an item.
const MaxItemRate = 250

// shard is the state of one item: its interval, and how far ahead of the
// TAT an event may start (the burst it allows).
func (l Limit) shard() (every, tolerance time.Duration) {
	n := max(l.Shards, 1)
	// The item keeps milliseconds: rounding the interval up keeps a limit at
	// or under its rate (down, 150/s would run at 166/s).
	every = (l.Every*time.Duration(n) + time.Millisecond - 1).Truncate(time.Millisecond)
	perShard := max((max(l.Burst, 1)+n-1)/n, 1)
	return every, every * time.Duration(perShard-1)
}

// Decision is what GCRA decides for one event arriving at now on a shard
// whose TAT is tat (zero: never used), taking a slot that starts at most
// horizon from now.
type Decision struct {
	OK    bool
	Start time.Time // when the slot starts (OK), or when asking again could succeed (not OK)
	TAT   time.Time // the shard's TAT after the decision
}

// Decide is GCRA itself, without storage: the in-memory limiter, the
// DynamoDB one and the tests share it.
func Decide(l Limit, tat, now time.Time, horizon time.Duration) Decision {
	every, tolerance := l.shard()
	base := later(tat, now)
	start := later(now, base.Add(-tolerance))
	if start.Sub(now) > horizon {
		return Decision{Start: start.Add(-horizon), TAT: tat}
	}
	return Decision{OK: true, Start: start, TAT: base.Add(every)}
}

// Hold is the TAT that makes every event wait until until: a receiver's
// Retry-After, or an operator's pause.
func Hold(l Limit, until time.Time) time.Time {
	_, tolerance := l.shard()
	return until.Add(tolerance)
}

// Limiter takes slots of limits.
type Limiter interface {
	// Reserve takes the next slot starting within horizon of now and says
	// when it starts; ok is false when none does, and start is then when to
	// ask again, or zero when the limit's item changed under every write
	// tried (a busy limit: ask again shortly).
	Reserve(ctx context.Context, key Key, l Limit, horizon time.Duration) (ok bool, start time.Time, err error)
	// ReserveShare is Reserve for a slot of l and of a share within it at
	// once; byShare says, when ok is false, that the share refused.
	ReserveShare(ctx context.Context, key Key, l Limit, s Share, horizon time.Duration) (ok bool, start time.Time, byShare bool, err error)
	// Hold makes every slot of the limit start at until or later.
	Hold(ctx context.Context, key Key, l Limit, until time.Time) error
}

// Key names a limit: the tenant it belongs to and its scope (keyschema.Rate*).
type Key struct{ TenantID, Scope string }

func (k Key) item(shard int) keyschema.Key { return keyschema.Rate(k.TenantID, k.Scope, shard) }

// Share is a limit within another: an API key's own limit inside its
// tenant's. Its state is one more attribute of some of the outer limit's
// items, so one conditional write takes a slot of both. A share adds no
// call and no item, and its writes are the outer limit's, spread as they
// are: a share never heats a partition the outer limit does not.
type Share struct {
	ID    string // names the share among the outer limit's (an API key's limit id)
	Limit Limit  // its rate and burst; its Shards are chosen by place
}

// place says which of outer's shards carry s: as many as s's rate needs at
// outer's rate per shard, so that s's own limit, not where it lives, caps
// it (a share faster than outer spans every shard), starting at one its ID
// picks, so that the shares of one tenant spread over its items. The
// returned Limit is s's, spread over those shards.
func (s Share) place(outer Limit) (first, count int, l Limit) {
	n := max(outer.Shards, 1)
	count = n
	if s.Limit.Every > 0 {
		// A shard of outer admits one every outer.Every*n; s needs one
		// every s.Limit.Every.
		count = min(n, max(1, int((outer.Every*time.Duration(n)+s.Limit.Every-1)/s.Limit.Every)))
	}
	sum := sha256.Sum256([]byte(s.ID))
	first = int(binary.BigEndian.Uint32(sum[:4]) % uint32(n))
	l = s.Limit
	l.Shards = count
	return first, count, l
}

// attr is the share's attribute in the outer limit's items: a short digest
// of its ID, so that an item carrying many shares stays small (a write
// costs a unit per KB).
func (s Share) attr() string {
	sum := sha256.Sum256([]byte(s.ID))
	return "s_" + base64.RawURLEncoding.EncodeToString(sum[:9])
}

// Admit takes a slot now if one is free; otherwise it says how long until one is.
func Admit(ctx context.Context, lim Limiter, key Key, l Limit, now time.Time) (ok bool, retryAfter time.Duration, err error) {
	ok, start, err := lim.Reserve(ctx, key, l, 0)
	return admitted(ok, start, err, l, now)
}

// AdmitShare is Admit for l and a share within it: both take a slot, or
// neither does; byShare says the share refused.
func AdmitShare(ctx context.Context, lim Limiter, key Key, l Limit, s Share, now time.Time) (ok, byShare bool, retryAfter time.Duration, err error) {
	ok, start, byShare, err := lim.ReserveShare(ctx, key, l, s, 0)
	every := l.Every
	if byShare {
		every = s.Limit.Every
	}
	ok, retryAfter, err = admitted(ok, start, err, Limit{Every: every}, now)
	return ok, byShare, retryAfter, err
}

func admitted(ok bool, start time.Time, err error, l Limit, now time.Time) (bool, time.Duration, error) {
	if err != nil || ok {
		return ok, 0, err
	}
	if start.IsZero() {
		return false, l.Every, nil // busy: a slot's time
	}
	return false, max(start.Sub(now), time.Millisecond), nil
}

// cell is one limit's state in an item: the attribute holding its TAT, and
// the limit as that item sees it (its Shards: the items it is spread over).
type cell struct {
	attr  string
	limit Limit
}

// cells are the item a slot is taken in and the limits kept there: l's
// own TAT, and s's when there is one, on a shard that carries both.
func cells(key Key, l Limit, s *Share) (keyschema.Key, []cell) {
	own := cell{attr: "tat", limit: l}
	if s == nil {
		return key.item(rand.IntN(max(l.Shards, 1))), []cell{own}
	}
	first, count, sl := s.place(l)
	shard := (first + rand.IntN(count)) % max(l.Shards, 1)
	return key.item(shard), []cell{own, {attr: s.attr(), limit: sl}}
}

// hintKey is one cell of one item.
type hintKey struct {
	item keyschema.Key
	attr string
}

// Table keeps limits in IntegrationsTable, one item per limit and shard.
type Table struct {
	DB    dynamo.API
	Table string
	Now   func() time.Time // nil: time.Now

	mu   sync.Mutex
	hint map[hintKey]time.Time // the TAT this instance last saw, to pick the likelier write first

	// Coalesce makes concurrent Reserves of one limit (of one item) in this
	// instance share writes: while one is out, those that come wait, and
	// then take their slots together in one write. The dispatcher's gate
	// sets it: a batch of messages to one webhook takes its slots in two
	// writes, not ten.
	Coalesce bool
	gmu      sync.Mutex
	groups   map[group][]chan reserved
}

// hints bounds the TATs an instance remembers (a guess, not state: losing one costs a write).
const hints = 10000

// idle is how long after its TAT an item lives (TTL): a limit unused that
// long is at rest, and a missing item is read as at rest.
const idle = time.Hour

func (t *Table) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func millis(at time.Time) string { return strconv.FormatInt(at.UnixMilli(), 10) }

// Reserve implements Limiter with one conditional UpdateItem when the
// remembered TAT is right, and at most three when it is not (five with a
// share): the update that
// fits the TAT it guessed (at rest: set it from now; busy: add the interval
// to it), and on refusal the item DynamoDB returns says which fits.
func (t *Table) Reserve(ctx context.Context, key Key, l Limit, horizon time.Duration) (bool, time.Time, error) {
	if t.Coalesce && l.Shards <= 1 {
		return t.coalesced(ctx, group{key, l, horizon})
	}
	item, cs := cells(key, l, nil)
	ok, start, _, err := t.reserve(ctx, item, cs, horizon)
	return ok, start, err
}

// ReserveShare implements Limiter: the same one write, whose update and
// condition cover both TATs of the item.
func (t *Table) ReserveShare(ctx context.Context, key Key, l Limit, s Share, horizon time.Duration) (bool, time.Time, bool, error) {
	item, cs := cells(key, l, &s)
	ok, start, by, err := t.reserve(ctx, item, cs, horizon)
	return ok, start, by == 1, err
}

// decide is GCRA for every cell of an item at once: the slot is free when
// it is free in each, and starts when the last of them allows; refused, by
// is the cell whose slot is furthest off.
func decide(cs []cell, tats []time.Time, now time.Time, horizon time.Duration) (ds []Decision, ok bool, start time.Time, by int) {
	ds = make([]Decision, len(cs))
	ok, by = true, -1
	for i, c := range cs {
		ds[i] = Decide(c.limit, tats[i], now, horizon)
		switch {
		case !ds[i].OK && (by < 0 || ds[i].Start.After(ds[by].Start)):
			ok, by = false, i
		case ds[i].OK && ok:
			start = later(start, ds[i].Start)
		}
	}
	if !ok {
		start = ds[by].Start
	}
	return ds, ok, start, by
}

func (t *Table) reserve(ctx context.Context, item keyschema.Key, cs []cell, horizon time.Duration) (bool, time.Time, int, error) {
	clock := func() time.Time { return time.UnixMilli(t.now().UnixMilli()) } // the item keeps milliseconds
	now := clock()
	tats := make([]time.Time, len(cs))
	t.mu.Lock()
	for i, c := range cs {
		tats[i] = t.hint[hintKey{item, c.attr}]
	}
	t.mu.Unlock()
	// A cell's guess is refused at most twice: a remembered TAT that looked
	// busy is at rest (a TAT that moved back: moto's cancelled transactions
	// restore the whole table), then at rest another writer takes the slot
	// first; busy from then on, and busy writers never refuse each other.
	// The cells of one item may be refused one at a time, so each gets two
	// (three tries for two cells answered 2 of 3,000 make bench requests
	// 429, far under both limits).
	for try := range 1 + 2*len(cs) {
		_, ok, start, by := decide(cs, tats, now, horizon)
		if !ok && try > 0 {
			// The refused write may have taken seconds (a slow or retried
			// call): weighed against the time before it, the TAT others
			// moved meanwhile looks like a burst used up, and a tenant far
			// under its limit was answered 429. Weigh it at the time it is
			// now. (Only then: while the slot is free, the time of the
			// first try keeps a refused write on the relative update
			// below, which concurrent writers never refuse each other.)
			if fresh := clock(); fresh.After(now) {
				now = fresh
				_, ok, start, by = decide(cs, tats, now, horizon)
			}
		}
		if !ok {
			return false, start, by, nil
		}
		in := update(item, cs, tats, now, horizon)
		in.TableName = aws.String(t.Table)
		out, err := t.DB.UpdateItem(ctx, in)
		held, refused := dynamo.Refused(err)
		switch {
		case err == nil:
			start := now
			for _, c := range cs {
				got := tatOf(out.Attributes, c.attr)
				t.remember(hintKey{item, c.attr}, got)
				every, tolerance := c.limit.shard()
				start = later(start, got.Add(-every-tolerance))
			}
			return true, start, -1, nil
		case refused:
			for i, c := range cs { // the TATs as they are: the next try takes the updates that fit them
				tats[i] = tatOf(held, c.attr)
				t.remember(hintKey{item, c.attr}, tats[i])
			}
		default:
			return false, time.Time{}, -1, dynamo.Translate("take a rate-limit slot", err)
		}
	}
	// Every guess refused: the TATs move under us as fast as we read them,
	// which is a busy limit. The caller asks again shortly rather than spin
	// here; a zero time tells it apart from a slot beyond the horizon.
	return false, time.Time{}, 0, nil
}

// update is the one conditional write that takes a slot of every cell,
// each by the update that fits the TAT guessed for it: at rest, the slot
// starts now and the TAT is now + every; busy, the slot starts at TAT -
// tolerance if that is within the horizon, and the TAT moves on by every.
func update(item keyschema.Key, cs []cell, tats []time.Time, now time.Time, horizon time.Duration) *dynamodb.UpdateItemInput {
	return updateSlots(item, cs, tats, now, horizon, 1)
}

// updateSlots is update taking slots consecutive slots of each cell: the
// TAT moves on by slots intervals, and the last slot must start within the
// horizon.
func updateSlots(item keyschema.Key, cs []cell, tats []time.Time, now time.Time, horizon time.Duration, slots int) *dynamodb.UpdateItemInput {
	names := map[string]string{}
	values := map[string]types.AttributeValue{":now": num(millis(now))}
	var sets, conds []string
	var keep time.Time // the latest TAT written: the item lives idle past it
	for i, c := range cs {
		every, tolerance := c.limit.shard()
		n, v := "#t"+strconv.Itoa(i), ":t"+strconv.Itoa(i)
		names[n] = c.attr
		step := every * time.Duration(slots)
		if !tats[i].After(now) {
			sets = append(sets, n+" = "+v)
			conds = append(conds, "(attribute_not_exists("+n+") OR "+n+" <= :now)")
			values[v] = num(millis(now.Add(step)))
			keep = later(keep, now.Add(step))
		} else {
			last := ":l" + strconv.Itoa(i)
			sets = append(sets, n+" = "+n+" + "+v)
			conds = append(conds, "("+n+" > :now AND "+n+" <= "+last+")")
			values[v] = num(strconv.FormatInt(step.Milliseconds(), 10))
			values[last] = num(millis(now.Add(tolerance + horizon - every*time.Duration(slots-1))))
			keep = later(keep, now.Add(tolerance+horizon+every))
		}
	}
	values[":exp"] = num(expiry(keep))
	return &dynamodb.UpdateItemInput{
		Key:                                 item.Attrs(),
		UpdateExpression:                    aws.String("SET " + strings.Join(sets, ", ") + ", expiresAt = :exp"),
		ConditionExpression:                 aws.String(strings.Join(conds, " AND ")),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValues:                        types.ReturnValueUpdatedNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
}

// Hold implements Limiter: each shard's TAT is set to Hold(l, until)
// unless it is later already.
func (t *Table) Hold(ctx context.Context, key Key, l Limit, until time.Time) error {
	tat := Hold(l, until)
	for shard := range max(l.Shards, 1) {
		k := key.item(shard)
		_, err := t.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(t.Table), Key: k.Attrs(),
			UpdateExpression:          aws.String("SET #tat = :tat, expiresAt = :exp"),
			ConditionExpression:       aws.String("attribute_not_exists(#tat) OR #tat < :tat"),
			ExpressionAttributeNames:  map[string]string{"#tat": "tat"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":tat": num(millis(tat)), ":exp": num(expiry(tat))},
		})
		if err != nil && !dynamo.ConditionFailed(err) {
			return dynamo.Translate("hold a rate limit", err)
		}
		t.remember(hintKey{k, "tat"}, tat)
	}
	return nil
}

func (t *Table) remember(k hintKey, tat time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.hint == nil || len(t.hint) >= hints {
		t.hint = map[hintKey]time.Time{}
	}
	t.hint[k] = tat
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func num(s string) types.AttributeValue { return &types.AttributeValueMemberN{Value: s} }

func expiry(tat time.Time) string { return strconv.FormatInt(tat.Add(idle).Unix(), 10) }

func tatOf(item map[string]types.AttributeValue, attr string) time.Time {
	if n, ok := item[attr].(*types.AttributeValueMemberN); ok {
		if ms, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
			return time.UnixMilli(ms)
		}
	}
	return time.Time{}
}

// Memory is the limiter in memory: for one process (a simulation, a unit
// test) it decides exactly as Table does.
type Memory struct {
	Now func() time.Time
	mu  sync.Mutex
	tat map[hintKey]time.Time
}

// Reserve implements Limiter.
func (m *Memory) Reserve(_ context.Context, key Key, l Limit, horizon time.Duration) (bool, time.Time, error) {
	item, cs := cells(key, l, nil)
	ok, start, _ := m.reserve(item, cs, horizon)
	return ok, start, nil
}

// ReserveShare implements Limiter.
func (m *Memory) ReserveShare(_ context.Context, key Key, l Limit, s Share, horizon time.Duration) (bool, time.Time, bool, error) {
	item, cs := cells(key, l, &s)
	ok, start, by := m.reserve(item, cs, horizon)
	return ok, start, by == 1, nil
}

func (m *Memory) reserve(item keyschema.Key, cs []cell, horizon time.Duration) (bool, time.Time, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tat == nil {
		m.tat = map[hintKey]time.Time{}
	}
	tats := make([]time.Time, len(cs))
	for i, c := range cs {
		tats[i] = m.tat[hintKey{item, c.attr}]
	}
	ds, ok, start, by := decide(cs, tats, m.Now(), horizon)
	if ok {
		for i, c := range cs {
			m.tat[hintKey{item, c.attr}] = ds[i].TAT
		}
	}
	return ok, start, by
}

// Hold implements Limiter.
func (m *Memory) Hold(_ context.Context, key Key, l Limit, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tat == nil {
		m.tat = map[hintKey]time.Time{}
	}
	for shard := range max(l.Shards, 1) {
		k := hintKey{key.item(shard), "tat"}
		m.tat[k] = later(m.tat[k], Hold(l, until))
	}
	return nil
}
