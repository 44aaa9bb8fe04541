package alert

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
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
// entries whose dates put a milestone in that stretch, and the catch-ups a
// grown lead time left. A pass that fails leaves the watermark where it was,
// so the next one reads the same stretch again (markers keep every alert to
// once); a missed run is caught up, up to MaxLateness.
type Pass struct {
	Index    *Index
	Settings *SettingsStore
	Items    dynamo.API // AssetsTable: each candidate is read to check its date still holds
	Assets   string     // AssetsTable's name
	Webhooks interface {
		List(ctx context.Context, tenantID string) ([]webhook.Webhook, error)
	}
	Firer *Firer
	Now   func() time.Time
	// Backfill indexes dates written before the index, a stretch of the
	// table per Handle (nil: none). Run, which tests call as of other times,
	// leaves it alone: it works as of the real now.
	Backfill *Backfill
	// Watermark is where the pass keeps how far it has looked; zero for
	// keyschema.AlertWatermark (tests running passes as of other times use
	// their own).
	Watermark keyschema.Key
}

func (p *Pass) watermarkKey() keyschema.Key {
	if p.Watermark == (keyschema.Key{}) {
		return keyschema.AlertWatermark()
	}
	return p.Watermark
}

// Result says what a pass did.
type Result struct {
	From, To   time.Time
	Candidates int // index entries read (after each tenant's lead time is applied)
	Stale      int // entries whose item no longer has the date (moved, removed, performed)
	Fired      int // alerts queued
	Unreadable int // candidates skipped because their item could not be decoded
}

// Handle is the Lambda handler: EventBridge Scheduler's event carries nothing the pass needs.
func (p *Pass) Handle(ctx context.Context, _ json.RawMessage) error {
	r, err := p.Run(ctx, p.Now())
	if err != nil {
		return err
	}
	slog.Info("alert pass", "from", isotime.Format(r.From), "to", isotime.Format(r.To), "candidates", r.Candidates, "stale", r.Stale, "unreadable", r.Unreadable, "fired", r.Fired)
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

// Run makes one pass as of now.
func (p *Pass) Run(ctx context.Context, now time.Time) (Result, error) {
	to := now.Add(-PassLag)
	from, err := p.watermark(ctx, to)
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
	// own tenant's lead time, and the catch-ups' entries of their tenant.
	candidates := map[string]Entry{}
	for _, w := range Crossings(from, to, inUse) {
		es, err := p.Index.Between(ctx, w)
		if err != nil {
			return res, err
		}
		for _, e := range es {
			if w.Lead == 0 || leadsOf(e.TenantID).Lead(w.Group) == w.Lead {
				candidates[e.ID()] = e
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
				candidates[e.ID()] = e
			}
		}
	}
	res.Candidates = len(candidates)

	// Each candidate is checked against its item as it is now: the index
	// follows the stream, which may be a moment behind.
	ordered := slices.Collect(maps.Values(candidates))
	slices.SortFunc(ordered, func(a, b Entry) int { return strings.Compare(a.ID(), b.ID()) })
	items, err := p.read(ctx, ordered)
	if err != nil {
		return res, err
	}
	var jobs []firing
	tenants := map[string]bool{}
	for _, e := range ordered {
		item, assetItem := items[keyOf(e.ItemPK, e.ItemSK)], items[keyOf(e.ItemPK, keyschema.AssetSK)]
		if item == nil || assetItem == nil || !slices.ContainsFunc(Entries(ImageOf(item)), e.Same) {
			res.Stale++
			continue
		}
		j := firing{tenantID: e.TenantID}
		for _, m := range Milestones(e, leadsOf(e.TenantID)) {
			if m.Due(to) {
				j.due = append(j.due, m)
			}
		}
		if len(j.due) == 0 {
			continue
		}
		if j.data, err = NewData(e, item, assetItem, now); err != nil {
			// An item this code cannot read (the main app wrote a field in
			// another type) must not hold up every other tenant's alerts.
			slog.Warn("alert skipped: its item cannot be read", "itemPK", e.ItemPK, "itemSK", e.ItemSK, "error", err.Error())
			res.Unreadable++
			continue
		}
		jobs = append(jobs, j)
		tenants[e.TenantID] = true
	}
	hooks, err := p.listHooks(ctx, slices.Sorted(maps.Keys(tenants)))
	if err != nil {
		return res, err
	}
	var fired atomic.Int64
	err = parallel.Each(ctx, len(jobs), fireConcurrency, func(ctx context.Context, i int) error {
		j := jobs[i]
		for _, m := range j.due {
			ok, err := p.Firer.Fire(ctx, m, j.data, hooks[j.tenantID], now)
			if err != nil {
				return err
			}
			if ok {
				fired.Add(1)
			}
		}
		return nil
	})
	res.Fired = int(fired.Load())
	if err != nil {
		return res, err
	}

	for _, st := range all {
		if err := p.Settings.Settled(ctx, st); err != nil {
			return res, err
		}
	}
	return res, p.advance(ctx, to)
}

// firing is a candidate's milestones that are due, with their alert's data.
type firing struct {
	tenantID string
	due      []Milestone
	data     Data
}

// fireConcurrency is how many candidates a pass fires at once: each alert
// is a few calls in a row (marker, delivery, queue, marker), so one at a
// time would leave a pass of 10,000 alerts waiting on the network for most
// of ExpiryAlertsFunction's timeout.
const fireConcurrency = 16

// listHooks lists each tenant's webhooks, fireConcurrency tenants at once.
func (p *Pass) listHooks(ctx context.Context, tenants []string) (map[string][]webhook.Webhook, error) {
	lists := make([][]webhook.Webhook, len(tenants))
	err := parallel.Each(ctx, len(tenants), fireConcurrency, func(ctx context.Context, i int) (err error) {
		lists[i], err = p.Webhooks.List(ctx, tenants[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string][]webhook.Webhook, len(tenants))
	for i, t := range tenants {
		out[t] = lists[i]
	}
	return out, nil
}

func keyOf(pk, sk string) string { return pk + "\x00" + sk }

// read fetches the candidates' items and their assets, 100 keys a batch.
func (p *Pass) read(ctx context.Context, es []Entry) (map[string]map[string]types.AttributeValue, error) {
	out := map[string]map[string]types.AttributeValue{}
	var keys []keyschema.Key
	seen := map[string]bool{}
	for _, e := range es {
		for _, k := range []keyschema.Key{{PK: e.ItemPK, SK: e.ItemSK}, {PK: e.ItemPK, SK: keyschema.AssetSK}} {
			if !seen[keyOf(k.PK, k.SK)] {
				seen[keyOf(k.PK, k.SK)] = true
				keys = append(keys, k)
			}
		}
	}
	for start := 0; start < len(keys); start += 100 {
		var reads []dynamo.Read
		for _, k := range keys[start:min(start+100, len(keys))] {
			reads = append(reads, dynamo.Read{Table: p.Assets, Key: k.Attrs(), Found: func(item map[string]types.AttributeValue) error {
				out[keyOf(k.PK, k.SK)] = item
				return nil
			}})
		}
		if err := dynamo.GetTogether(ctx, p.Items, "read alert items", reads...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// watermark is where the last pass stopped, no earlier than MaxLateness
// before to (FirstPass before it when no pass has run).
func (p *Pass) watermark(ctx context.Context, to time.Time) (time.Time, error) {
	out, err := p.Settings.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(p.Settings.Table), Key: p.watermarkKey().Attrs(), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return time.Time{}, dynamo.Translate("read alert watermark", err)
	}
	from := to.Add(-FirstPass)
	if v, ok := out.Item["at"].(*types.AttributeValueMemberS); ok {
		if at, err := isotime.Parse(v.Value); err == nil {
			from = at
		}
	}
	if from.Before(to.Add(-MaxLateness)) {
		from = to.Add(-MaxLateness)
	}
	return from, nil
}

// advance moves the watermark to to, never back (a slower pass that
// started earlier must not undo a later one).
func (p *Pass) advance(ctx context.Context, to time.Time) error {
	_, err := p.Settings.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(p.Settings.Table), Key: p.watermarkKey().Attrs(),
		UpdateExpression:         aws.String("SET #at = :to, passes = if_not_exists(passes, :zero) + :one"),
		ConditionExpression:      aws.String("attribute_not_exists(#at) OR #at < :to"),
		ExpressionAttributeNames: map[string]string{"#at": "at"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":to": &types.AttributeValueMemberS{Value: isotime.Format(to)}, ":zero": &types.AttributeValueMemberN{Value: "0"},
			":one": &types.AttributeValueMemberN{Value: strconv.Itoa(1)},
		},
	})
	if dynamo.ConditionFailed(err) {
		return nil
	}
	return dynamo.Translate("advance alert watermark", err)
}
