package alert

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/webhook"
)

// Backfill indexes the dates AssetsTable held before its stream began
// indexing them: items written before expiry alerts were deployed, by this
// product or the main app. It is a scan of AssetsTable that each scheduled
// pass continues from where the last one stopped (the cursor is stored),
// for a bounded time, until it reaches the end; then it is done and costs a
// pass one read.
//
// Each scanned item is treated as the stream treats a new one: a date not
// yet indexed is indexed as of now, and its milestones already due fire (once:
// the markers). A date the stream indexed already is left as it is, so the
// backfill never moves an entry's IndexedAt. An item changed while the scan
// passes it is at worst indexed from its older image too: a pass checks each
// entry against the item as it is then, so a stale entry fires nothing.
type Backfill struct {
	DB       dynamo.API     // IntegrationsTable: its state
	Items    *asset.Scanner // what it scans
	Table    string         // IntegrationsTable
	Arming   *Arming
	Webhooks Subscriptions
	// State is where the cursor is kept; zero for keyschema.AlertBackfill.
	State keyschema.Key
	// PageSize bounds each Scan page (0: DynamoDB's 1 MB pages).
	PageSize int32
}

// backfillState is the stored progress.
type backfillState struct {
	Done bool `dynamodbav:"done"`
	// Cursor is the scan's LastEvaluatedKey, kept as the map attribute
	// "cursor" (attributevalue does not decode into AttributeValues).
	Cursor    map[string]types.AttributeValue `dynamodbav:"-"`
	Scanned   int64                           `dynamodbav:"scanned"`
	Indexed   int64                           `dynamodbav:"indexed"`
	StartedAt string                          `dynamodbav:"startedAt"`
}

func (b *Backfill) key() keyschema.Key {
	if b.State == (keyschema.Key{}) {
		return keyschema.AlertBackfill()
	}
	return b.State
}

// BackfillResult says what one step did.
type BackfillResult struct {
	Scanned, Indexed int
	Done             bool
}

// Step scans pages until the end of the table or until budget is spent (a
// page begun is finished), as of now, storing the cursor after each page.
func (b *Backfill) Step(ctx context.Context, now time.Time, budget time.Duration) (BackfillResult, error) {
	var res BackfillResult
	out, err := b.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(b.Table), Key: b.key().Attrs(), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return res, dynamo.Translate("read alert backfill", err)
	}
	var st backfillState
	if out.Item != nil {
		if err := attributevalue.UnmarshalMap(out.Item, &st); err != nil {
			return res, err
		}
		if c, ok := out.Item["cursor"].(*types.AttributeValueMemberM); ok {
			st.Cursor = c.Value
		}
	}
	if st.Done {
		res.Done = true
		return res, nil
	}
	if st.StartedAt == "" {
		st.StartedAt = isotime.Format(now)
	}
	listed := map[string][]webhook.Webhook{}
	hooks := func(tenantID string) ([]webhook.Webhook, error) {
		if l, ok := listed[tenantID]; ok {
			return l, nil
		}
		l, err := readable(ctx, b.Webhooks, tenantID)
		if err == nil {
			listed[tenantID] = l
		}
		return l, err
	}
	deadline := time.Now().Add(budget)
	for {
		items, next, err := b.Items.Page(ctx, st.Cursor, b.PageSize)
		if err != nil {
			return res, err
		}
		indexed := 0
		for _, item := range items {
			n, err := b.item(ctx, item, now, hooks)
			if err != nil {
				return res, err
			}
			indexed += n
		}
		res.Scanned += len(items)
		res.Indexed += indexed
		st.Scanned += int64(len(items))
		st.Indexed += int64(indexed)
		st.Cursor = next
		st.Done = next == nil
		if err := b.save(ctx, st); err != nil {
			return res, err
		}
		if st.Done {
			slog.Info("alert backfill done", "scanned", st.Scanned, "indexed", st.Indexed, "startedAt", st.StartedAt)
			res.Done = true
			return res, nil
		}
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			return res, nil
		}
	}
}

// item indexes one scanned item's dates that the index lacks and fires
// what of them is due; it reports how many it indexed.
func (b *Backfill) item(ctx context.Context, item *asset.Item, now time.Time, hooks func(string) ([]webhook.Webhook, error)) (int, error) {
	var added []Entry
	for _, e := range Entries(item.WatchedDates()) {
		e.IndexedAt = isotime.Format(now)
		ok, err := b.Arming.Index.AddNew(ctx, e)
		if err != nil {
			return 0, err
		}
		if ok {
			added = append(added, e)
		}
	}
	if len(added) == 0 {
		return 0, nil
	}
	return len(added), b.Arming.fireDue(ctx, added, item, now, hooks)
}

func (b *Backfill) save(ctx context.Context, st backfillState) error {
	item, err := attributevalue.MarshalMap(st)
	if err != nil {
		return err
	}
	for k, v := range b.key().Attrs() {
		item[k] = v
	}
	if len(st.Cursor) > 0 {
		item["cursor"] = &types.AttributeValueMemberM{Value: st.Cursor}
	}
	_, err = b.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(b.Table), Item: item})
	return dynamo.Translate("save alert backfill", err)
}
