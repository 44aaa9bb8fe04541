package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/devstack"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/sealing"
	"github.com/uniasset/integrations/shared/webhook"
)

const (
	alertTenants      = 100
	alertDuePerTenant = 100  // 10,000 items falling due in the pass's stretch
	alertIdle         = 1000 // per tenant: 100,000 items that do not
	alertStretch      = 15 * time.Minute
)

// alertPass measures one expiry alerts pass (ExpiryAlertsFunction's Run,
// with its own IAM principal) over 10,000 items falling due across 100
// tenants; then again, one day later, with 100,000 items that do not fall
// due added beside another 10,000 that do. The tables are seeded directly
// (items and their index entries, as the stream would write them) with the
// pollers stopped, so the pass alone does the work it is measured on.
func alertPass(doc *bytes.Buffer) error {
	ctx := context.Background()
	stack, stop, err := devstack.StartForTests(ctx, nil)
	if err != nil {
		return err
	}
	defer stop()
	stack.StopPollers()
	cfg := stack.Config.ExpiryAlerts
	index := &alert.Index{Table: cfg.IntegrationsTable, Shards: alert.IndexShards}

	// One webhook per tenant, subscribed to the seven alerts.
	sealer, _ := sealing.New(strings.Repeat("k", 64))
	var hooks []map[string]types.AttributeValue
	for t := range alertTenants {
		w := webhook.Webhook{TenantID: alertTenant(t), ID: fmt.Sprintf("wh_bench%03d", t), Name: "alerts", URL: "https://hooks.example.com/alerts",
			Events: slices.Clone(alert.Events), Status: webhook.Active, Secret: "whsec_bench", Headers: map[string]string{}}
		item, err := sealedItem(&webhook.Store{Sealer: sealer}, w)
		if err != nil {
			return err
		}
		hooks = append(hooks, item)
	}
	if err := batchWrite(ctx, stack.DB, cfg.IntegrationsTable, hooks); err != nil {
		return err
	}

	type phase struct {
		name                   string
		assetItems, indexItems int
		candidates, fired      int
		calls                  map[string]int
		read                   int64
		queued                 int64
		took                   time.Duration
	}
	var phases []phase
	seeded := seedCounts{}
	day1 := time.Date(2031, 3, 10, 10, 0, 0, 0, time.UTC)
	for i, p := range []struct {
		name string
		from time.Time
		idle int
	}{
		{"10,000 due", day1, 0},
		{"10,000 due + 100,000 not due", day1.Add(24 * time.Hour), alertIdle},
	} {
		fmt.Printf("  seeding %s\n", p.name)
		t0 := time.Now()
		if err := seedAlertItems(ctx, stack, index, p.from, alertDuePerTenant, p.idle, i, &seeded); err != nil {
			return err
		}
		fmt.Printf("  seeded in %s: %d AssetsTable items, %d index entries\n", time.Since(t0).Round(time.Second), seeded.assets, seeded.entries)

		db := &counting{API: dynamodb.NewFromConfig(stack.Principals["ExpiryAlertsFunction"].AWS), calls: map[string]int{}}
		queue := &countingSQS{SQSAPI: sqs.NewFromConfig(stack.Principals["ExpiryAlertsFunction"].AWS)}
		pass := alert.NewPass(cfg, db, queue)
		pass.Watermark.Key = keyschema.Key{PK: "ALERTJOB", SK: fmt.Sprintf("BENCH%d", i)}
		wm := pass.Watermark.Key.Attrs()
		wm["at"] = &types.AttributeValueMemberS{Value: isotime.Format(p.from)}
		if _, err := stack.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &cfg.IntegrationsTable, Item: wm}); err != nil {
			return err
		}
		db.calls = map[string]int{}
		drained := drain(ctx, stack)
		t0 = time.Now()
		res, err := pass.Run(ctx, p.from.Add(alertStretch+alert.PassLag))
		took := time.Since(t0)
		drained()
		if err != nil {
			return err
		}
		want := alertTenants * alertDuePerTenant
		if res.Fired != want || int(queue.messages.Load()) != want {
			return fmt.Errorf("%s: %d alerts fired and %d queued, want %d", p.name, res.Fired, queue.messages.Load(), want)
		}
		calls := maps.Clone(db.calls)
		calls["SQS send"] = int(queue.batches.Load())
		phases = append(phases, phase{name: p.name, assetItems: seeded.assets, indexItems: seeded.entries, candidates: res.Candidates, fired: res.Fired,
			calls: calls, read: db.read.Load(), queued: queue.messages.Load(), took: took})
		fmt.Printf("  pass: %d candidates, %d fired in %s, calls %v, %d items read\n", res.Candidates, res.Fired, took.Round(time.Millisecond), calls, db.read.Load())
	}

	fmt.Fprintf(doc, `
## Expiry alerts: one pass

Method: 100 tenants, each with one webhook subscribed to the seven alerts. Phase 1: 10,000 items
(100 a tenant: warranties, maintenance records, linked documents and document assets, a quarter
each) whose warning falls in one pass's stretch of 15 minutes, and one pass over it. Phase 2, one
day later: 100,000 more items that do not fall due in that pass's stretch — half on the same day
(the same index partitions, outside the stretch), half spread over the next year — beside 10,000
that do, and one pass over the new stretch. Items and their index entries are written straight to
the tables as the stream would write them, with the stack's pollers stopped; the pass is
ExpiryAlertsFunction's own (`+"`alert.NewPass`"+`, its IAM principal, against moto), its DynamoDB and SQS
clients wrapped to count calls and the items each call returns or scans (Query: ScannedCount;
BatchGetItem and GetItem: items returned). Each alert is one delivery to one webhook. While a pass
runs, two goroutines take its messages off DeliveryQueue as the dispatcher would (moto's
SendMessage costs in proportion to the queue's length: 186 ms with 3,000 messages waiting).

| | phase 1 | phase 2 |
|---|---:|---:|
`)
	row := func(label string, f func(phase) string) {
		fmt.Fprintf(doc, "| %s | %s | %s |\n", label, f(phases[0]), f(phases[1]))
	}
	row("AssetsTable items", func(p phase) string { return fmt.Sprintf("%d", p.assetItems) })
	row("index entries", func(p phase) string { return fmt.Sprintf("%d", p.indexItems) })
	row("candidates read from the index", func(p phase) string { return fmt.Sprintf("%d", p.candidates) })
	row("alerts fired (deliveries queued)", func(p phase) string { return fmt.Sprintf("%d (%d)", p.fired, p.queued) })
	ops := map[string]bool{}
	for _, p := range phases {
		for op := range p.calls {
			ops[op] = true
		}
	}
	for _, op := range slices.Sorted(maps.Keys(ops)) {
		row(op+" calls", func(p phase) string { return fmt.Sprintf("%d", p.calls[op]) })
	}
	total := func(p phase) int {
		n := 0
		for _, c := range p.calls {
			n += c
		}
		return n
	}
	row("**calls per pass**", func(p phase) string { return fmt.Sprintf("**%d**", total(p)) })
	row("calls per alert", func(p phase) string { return fmt.Sprintf("%.2f", float64(total(p))/float64(p.fired)) })
	row("**items read**", func(p phase) string { return fmt.Sprintf("**%d**", p.read) })
	row("pass time", func(p phase) string { return p.took.Round(100 * time.Millisecond).String() })
	row("alerts per second", func(p phase) string { return fmt.Sprintf("%.0f", float64(p.fired)/p.took.Seconds()) })
	fmt.Fprintf(doc, `
The calls and items read are the same in both phases: a pass reads the index partitions of the
days its stretch touches (8 shards each), bounded to the stretch by the sort key, so the 100,000
items that do not fall due cost it nothing, however many share those partitions. Items read are the
candidates' index entries, their items and their assets (a maintenance record's or linked
document's asset is a second item; an asset's own date needs one), each tenant's webhook and the
watermark (no tenant here has settings of its own).
The time is moto's: every call goes to one Python process, which walks every item of a table to
answer each Query (the 141 queries, 100 of them listing a tenant's webhooks, walk 10 times more
items in phase 2), so phase 2 is slower there; DynamoDB reads only what a Query returns. On
DynamoDB each alert is four calls in a row, and a pass fires 16 alerts at a time.
`)
	return nil
}

// drain takes messages off DeliveryQueue while a pass runs, as the
// dispatcher would (it sends nothing): moto computes every queue attribute,
// message counts included, on each SendMessage, so a queue left to fill
// makes each send cost in proportion to its length (186 ms a send with 3,000
// messages waiting, 7.6 ms with none) and the pass would measure that.
func drain(ctx context.Context, stack *devstack.Stack) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	q := sqs.NewFromConfig(stack.AWS)
	url := stack.Config.ExpiryAlerts.DeliveryQueueURL
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
				if err != nil || len(out.Messages) == 0 {
					continue
				}
				var del []sqstypes.DeleteMessageBatchRequestEntry
				for i, m := range out.Messages {
					del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
				}
				_, _ = q.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: del})
			}
		})
	}
	return func() { cancel(); wg.Wait() }
}

func alertTenant(t int) string { return fmt.Sprintf("bench-alerts-%03d", t) }

type seedCounts struct{ assets, entries int }

// seedAlertItems writes, for each tenant, due items whose warning falls in
// (from, from+alertStretch] and idle ones whose dates fall elsewhere, with
// the index entries the stream would make of them.
func seedAlertItems(ctx context.Context, stack *devstack.Stack, index *alert.Index, from time.Time, due, idle, phase int, n *seedCounts) error {
	var assets, entries []map[string]types.AttributeValue
	created := isotime.Format(from.Add(-90 * 24 * time.Hour))
	indexed := isotime.Format(from.Add(-60 * 24 * time.Hour))
	add := func(t, i int, warnAt time.Time) error {
		tenantID := alertTenant(t)
		assetID := fmt.Sprintf("asset_p%d_%03d_%06d", phase, t, i)
		a := map[string]types.AttributeValue{
			"entity": str("asset"), "tenantId": str(tenantID), "assetId": str(assetID), "assetName": str("Bench asset " + assetID),
			"categoryName": str("Bench"), "statusName": str("In use"), "version": &types.AttributeValueMemberN{Value: "1"},
			"createdAt": str(created), "createdBy": str("bench"), "updatedAt": str(created), "updatedBy": str("bench"),
		}
		for k, v := range keyschema.Asset(tenantID, assetID).Attrs() {
			a[k] = v
		}
		items := []map[string]types.AttributeValue{a}
		switch i % 4 {
		case 0:
			a["warrantyExpiresAt"] = str(isotime.Format(warnAt.Add(alert.DefaultLeads.Lead(alert.Warranty))))
		case 1:
			a["type"], a["expiresAt"] = str(asset.DocumentType), str(isotime.Format(warnAt.Add(alert.DefaultLeads.Lead(alert.Document))))
		case 2:
			dueAt := isotime.Format(warnAt.Add(alert.DefaultLeads.Lead(alert.Maintenance)))
			m, _ := attributevalue.MarshalMap(asset.Maintenance{MaintenanceID: "m1", AssetID: assetID, Title: "Service", DueAt: &dueAt, Status: "scheduled", CreatedAt: created})
			maps.Copy(m, keyschema.Maintenance(tenantID, assetID, "m1").Attrs())
			items = append(items, m)
		case 3:
			exp := isotime.Format(warnAt.Add(alert.DefaultLeads.Lead(alert.Document)))
			d, _ := attributevalue.MarshalMap(asset.Document{DocumentID: "d1", AssetID: assetID, Name: "Certificate", ExpiresAt: &exp, CreatedAt: created, UpdatedAt: created})
			maps.Copy(d, keyschema.Document(tenantID, assetID, "d1").Attrs())
			items = append(items, d)
		}
		assets = append(assets, items...)
		for _, it := range items {
			for _, e := range alert.Entries(asset.DatesOf(it)) {
				e.IndexedAt = indexed
				item, err := index.Item(e)
				if err != nil {
					return err
				}
				entries = append(entries, item)
			}
		}
		return nil
	}
	for t := range alertTenants {
		for i := range due {
			// Spread over the stretch, never on its lower bound (excluded).
			warnAt := from.Add(alertStretch * time.Duration(i+1) / time.Duration(due))
			if err := add(t, i, warnAt); err != nil {
				return err
			}
		}
		for i := range idle {
			var warnAt time.Time
			if i%2 == 0 {
				// The same day, after the stretch (and after the pass's clock).
				warnAt = from.Add(alertStretch + time.Hour + time.Duration(i)*time.Second)
			} else {
				// Another day of the next year.
				warnAt = from.Add(time.Duration(2+i%363)*24*time.Hour + time.Duration(i)*time.Second)
			}
			if err := add(t, due+i, warnAt); err != nil {
				return err
			}
		}
	}
	if err := batchWrite(ctx, stack.DB, stack.AssetsTable, assets); err != nil {
		return err
	}
	if err := batchWrite(ctx, stack.DB, stack.IntegrationsTable, entries); err != nil {
		return err
	}
	n.assets += len(assets)
	n.entries += len(entries)
	return nil
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

// batchWrite puts items 25 a call from 8 goroutines.
func batchWrite(ctx context.Context, db *dynamodb.Client, table string, items []map[string]types.AttributeValue) error {
	var next atomic.Int64
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for {
				start := int(next.Add(25)) - 25
				if start >= len(items) {
					return
				}
				var batch []types.WriteRequest
				for _, it := range items[start:min(start+25, len(items))] {
					batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
				}
				for len(batch) > 0 {
					out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: batch}})
					if err != nil {
						errs[w] = err
						return
					}
					batch = out.UnprocessedItems[table]
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// countingSQS counts the pass's queue calls and the messages they carry.
type countingSQS struct {
	delivery.SQSAPI
	batches, messages atomic.Int64
}

func (c *countingSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, o ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	c.batches.Add(1)
	c.messages.Add(int64(len(in.Entries)))
	return c.SQSAPI.SendMessageBatch(ctx, in, o...)
}

func (c *countingSQS) SendMessage(ctx context.Context, in *sqs.SendMessageInput, o ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	c.batches.Add(1)
	c.messages.Add(1)
	return c.SQSAPI.SendMessage(ctx, in, o...)
}
