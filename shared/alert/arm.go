package alert

import (
	"context"
	"time"

	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/webhook"
)

// Arming is what AssetsTable's stream does for alerts: keep the due-date
// index in line with each change, and fire at once the milestones of a date
// set or moved that are already due (a maintenance record written 3 days
// before its date is due_soon now; no pass's window will meet its warning
// time, which lies before the item existed).
//
// The index is written before due milestones are weighed, so a milestone not
// yet due then is met by a pass: passes look only at times a little in the
// past (PassLag), by when the entry is stored.
type Arming struct {
	Index    *Index
	Settings interface {
		ForAlerts(ctx context.Context, tenantID string) (Settings, error)
	}
	Assets  *asset.Items // the asset of a maintenance record or document
	Firer   *Firer
	Retries *Retries // where an alert failing for its item alone is kept
}

// Change indexes one change of an item (old and cur: its images, nil when
// absent) and fires what became due. hooks lists a tenant's webhooks.
func (a *Arming) Change(ctx context.Context, old, cur *asset.Item, now time.Time, hooks func(tenantID string) ([]webhook.Webhook, error)) error {
	removed, added := Changes(Entries(old.WatchedDates()), Entries(cur.WatchedDates()))
	if err := a.Index.Apply(ctx, removed, added, now); err != nil {
		return err
	}
	return a.fireDue(ctx, added, cur, now, hooks)
}

// fireDue fires the milestones of item's newly indexed entries that are
// due now. An entry whose alert fails for its item alone is kept
// for a retry (Retries) and the others go on; an outage fails the change.
func (a *Arming) fireDue(ctx context.Context, added []Entry, cur *asset.Item, now time.Time, hooks func(tenantID string) ([]webhook.Webhook, error)) error {
	// One item's entries share its tenant: its lead times are read once, and
	// only for a date that could have a milestone due under the longest lead.
	var leads *Leads
	for _, e := range added {
		if !couldBeDue(e, now) {
			continue
		}
		if leads == nil {
			st, err := a.Settings.ForAlerts(ctx, e.TenantID)
			if err != nil {
				return err
			}
			leads = &st.Leads
		}
		err := a.fireEntry(ctx, e, *leads, cur, now, hooks)
		if reason, ok := Poisoned(err); ok {
			err = a.Retries.Keep(ctx, e, 0, reason, now)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// fireEntry fires e's milestones that are due now (cur: e's item).
func (a *Arming) fireEntry(ctx context.Context, e Entry, leads Leads, cur *asset.Item, now time.Time, hooks func(tenantID string) ([]webhook.Webhook, error)) error {
	var due []Milestone
	for _, m := range Milestones(e, leads) {
		if m.Due(now) {
			due = append(due, m)
		}
	}
	if len(due) == 0 {
		return nil
	}
	assetItem := cur
	if e.ItemSK != keyschema.AssetSK {
		var err error
		if assetItem, err = a.Assets.Asset(ctx, e.TenantID, e.AssetID); err != nil {
			return err
		}
		if assetItem == nil {
			return nil // the asset is gone: nothing to tell about it
		}
	}
	data, err := NewData(e, cur, assetItem, now)
	if err != nil {
		return unreadable(err)
	}
	list, err := hooks(e.TenantID)
	if err != nil {
		return err
	}
	for _, m := range due {
		if _, err := a.Firer.Fire(ctx, m, data, list, now); err != nil {
			return err
		}
	}
	return nil
}

// couldBeDue reports whether any lead time a tenant may set puts one of e's
// milestones at or before now: a date further ahead needs no settings read.
func couldBeDue(e Entry, now time.Time) bool {
	due, err := isotime.Parse(e.DueAt)
	return err == nil && !due.Add(-MaxLeadDays*24*time.Hour).After(now)
}
