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
	"math/rand/v2"
	"strconv"
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
	// Hold makes every slot of the limit start at until or later.
	Hold(ctx context.Context, key Key, l Limit, until time.Time) error
}

// Key names a limit: the tenant it belongs to and its scope (keyschema.Rate*).
type Key struct{ TenantID, Scope string }

func (k Key) item(shard int) keyschema.Key { return keyschema.Rate(k.TenantID, k.Scope, shard) }

// Admit takes a slot now if one is free; otherwise it says how long until one is.
func Admit(ctx context.Context, lim Limiter, key Key, l Limit, now time.Time) (ok bool, retryAfter time.Duration, err error) {
	ok, start, err := lim.Reserve(ctx, key, l, 0)
	if err != nil || ok {
		return ok, 0, err
	}
	if start.IsZero() {
		return false, l.Every, nil // busy: a slot's time
	}
	return false, max(start.Sub(now), time.Millisecond), nil
}

// Table keeps limits in IntegrationsTable, one item per limit and shard.
type Table struct {
	DB    dynamo.API
	Table string
	Now   func() time.Time // nil: time.Now

	mu   sync.Mutex
	hint map[keyschema.Key]time.Time // the TAT this instance last saw, to pick the likelier write first
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
// remembered TAT is right, and at most three when it is not: the update that
// fits the TAT it guessed (at rest: set it from now; busy: add the interval
// to it), and on refusal the item DynamoDB returns says which fits.
func (t *Table) Reserve(ctx context.Context, key Key, l Limit, horizon time.Duration) (bool, time.Time, error) {
	shard := rand.IntN(max(l.Shards, 1))
	k := key.item(shard)
	every, tolerance := l.shard()
	clock := func() time.Time { return time.UnixMilli(t.now().UnixMilli()) } // the item keeps milliseconds
	now := clock()
	t.mu.Lock()
	tat := t.hint[k]
	t.mu.Unlock()
	for try := range 3 {
		d := Decide(l, tat, now, horizon)
		if !d.OK && try > 0 {
			// The refused write may have taken seconds (a slow or retried
			// call): weighed against the time before it, the TAT others
			// moved meanwhile looks like a burst used up, and a tenant far
			// under its limit was answered 429. Weigh it at the time it is
			// now. (Only then: while the slot is free, the time of the
			// first try keeps a refused write on the relative update
			// below, which concurrent writers never refuse each other.)
			if fresh := clock(); fresh.After(now) {
				now = fresh
				d = Decide(l, tat, now, horizon)
			}
		}
		if !d.OK {
			return false, d.Start, nil
		}
		in := &dynamodb.UpdateItemInput{
			TableName: aws.String(t.Table), Key: k.Attrs(),
			ExpressionAttributeNames:            map[string]string{"#tat": "tat"},
			ReturnValues:                        types.ReturnValueUpdatedNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}
		if !tat.After(now) {
			// At rest: the slot starts now and the TAT is now + every.
			in.UpdateExpression = aws.String("SET #tat = :tat, expiresAt = :exp")
			in.ConditionExpression = aws.String("attribute_not_exists(#tat) OR #tat <= :now")
			in.ExpressionAttributeValues = map[string]types.AttributeValue{
				":tat": num(millis(now.Add(every))), ":now": num(millis(now)), ":exp": num(expiry(now.Add(every))),
			}
		} else {
			// Busy: the slot starts at TAT - tolerance if that is within the horizon.
			in.UpdateExpression = aws.String("SET #tat = #tat + :every, expiresAt = :exp")
			in.ConditionExpression = aws.String("#tat > :now AND #tat <= :last")
			in.ExpressionAttributeValues = map[string]types.AttributeValue{
				":every": num(strconv.FormatInt(every.Milliseconds(), 10)), ":now": num(millis(now)),
				":last": num(millis(now.Add(tolerance + horizon))), ":exp": num(expiry(now.Add(tolerance + horizon + every))),
			}
		}
		out, err := t.DB.UpdateItem(ctx, in)
		held, refused := dynamo.Refused(err)
		switch {
		case err == nil:
			got := tatOf(out.Attributes)
			t.remember(k, got)
			return true, later(now, got.Add(-every-tolerance)), nil
		case refused:
			tat = tatOf(held) // the TAT as it is: the next try takes the update that fits it
			t.remember(k, tat)
		default:
			return false, time.Time{}, dynamo.Translate("take a rate-limit slot", err)
		}
	}
	// Three refusals in a row: the TAT moves under us as fast as we read it,
	// which is a busy limit. The caller asks again shortly rather than spin
	// here; a zero time tells it apart from a slot beyond the horizon.
	return false, time.Time{}, nil
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
		t.remember(k, tat)
	}
	return nil
}

func (t *Table) remember(k keyschema.Key, tat time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.hint == nil || len(t.hint) >= hints {
		t.hint = map[keyschema.Key]time.Time{}
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

func tatOf(item map[string]types.AttributeValue) time.Time {
	if n, ok := item["tat"].(*types.AttributeValueMemberN); ok {
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
	tat map[keyschema.Key]time.Time
}

// Reserve implements Limiter.
func (m *Memory) Reserve(_ context.Context, key Key, l Limit, horizon time.Duration) (bool, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tat == nil {
		m.tat = map[keyschema.Key]time.Time{}
	}
	k := key.item(rand.IntN(max(l.Shards, 1)))
	d := Decide(l, m.tat[k], m.Now(), horizon)
	if d.OK {
		m.tat[k] = d.TAT
	}
	return d.OK, d.Start, nil
}

// Hold implements Limiter.
func (m *Memory) Hold(_ context.Context, key Key, l Limit, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tat == nil {
		m.tat = map[keyschema.Key]time.Time{}
	}
	for shard := range max(l.Shards, 1) {
		k := key.item(shard)
		m.tat[k] = later(m.tat[k], Hold(l, until))
	}
	return nil
}
