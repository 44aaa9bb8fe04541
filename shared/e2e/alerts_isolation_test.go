package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/streamrouter"
	"github.com/uniasset/integrations/shared/tenant"
)

// templateTimeout is a function's Timeout as template.yaml sets it.
func templateTimeout(t *testing.T, fn string) time.Duration {
	t.Helper()
	secs, ok := stack.Template.Resources[fn].Properties["Timeout"].(int)
	if !ok {
		t.Fatalf("%s has no Timeout in the template", fn)
	}
	return time.Duration(secs) * time.Second
}

// scratchQueue is a queue of the test's own, so thousands of deliveries are
// counted rather than dispatched.
func scratchQueue(t *testing.T) (*sqs.Client, string) {
	t.Helper()
	q := sqs.NewFromConfig(stack.AWS)
	out, err := q.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("scratch-%d", seq.Add(1)))})
	if err != nil {
		t.Fatal(err)
	}
	return q, aws.ToString(out.QueueUrl)
}

func queued(t *testing.T, q *sqs.Client, url string) int {
	t.Helper()
	out, err := q.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages"}})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	return n
}

// maintenanceRecord is the stream record of a maintenance record inserted
// with a due date.
func maintenanceRecord(tid, assetID, id, dueAt string, n int) events.DynamoDBEventRecord {
	k := keyschema.Maintenance(tid, assetID, id)
	s := events.NewStringAttribute
	return events.DynamoDBEventRecord{
		EventID: fmt.Sprintf("due-%s-%d", tid, n), EventName: "INSERT",
		Change: events.DynamoDBStreamRecord{
			SequenceNumber: fmt.Sprint(5000 + n),
			Keys:           map[string]events.DynamoDBAttributeValue{"PK": s(k.PK), "SK": s(k.SK)},
			NewImage: map[string]events.DynamoDBAttributeValue{
				"PK": s(k.PK), "SK": s(k.SK), "maintenanceId": s(id), "assetId": s(assetID), "title": s("Work order " + id),
				"status": s("scheduled"), "dueAt": s(dueAt), "createdAt": s(isoIn(0)),
			},
		},
	}
}

// putAsset writes an asset item with no watched date, as the main app would.
func putAsset(t *testing.T, tid, assetID string) {
	t.Helper()
	item := keyschema.Asset(tid, assetID).Attrs()
	for k, v := range map[string]types.AttributeValue{"entity": sv("asset"), "tenantId": sv(tid), "assetId": sv(assetID), "assetName": sv("Fleet " + assetID),
		"categoryName": sv("Vehicles"), "statusName": sv("ACTIVE"), "version": &types.AttributeValueMemberN{Value: "1"},
		"createdAt": sv("2026-11-01T00:00:00.000Z"), "updatedAt": sv("2026-11-01T00:00:00.000Z")} {
		item[k] = v
	}
	putAssetsItem(t, item, assetID)
}

// putAssetsItem writes item to AssetsTable as the main app would. A put the
// SDK retried is logged (shown only if the test fails): its first attempt
// may have been stored without its INSERT stream record, had moto failed
// between the two, and the retry's record then changes nothing.
func putAssetsItem(t *testing.T, item map[string]types.AttributeValue, name string) {
	t.Helper()
	out, err := stack.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(stack.AssetsTable), Item: item})
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := retry.GetAttemptResults(out.ResultMetadata); ok && len(a.Results) > 1 {
		t.Logf("the put of %s took %d attempts; the first ended %v", name, len(a.Results), a.Results[0].Err)
	}
}

// A stream batch of maintenance records already due, for a tenant with 50
// webhooks (an alert delivery each), is handled within StreamRouterFunction's
// Timeout: the handler gets the template's Timeout as its context's deadline,
// as Lambda gives it, and must report no failure. 20 records (1,000
// deliveries) by default: moto's one Python core, not our code, sets the
// time, and 100 records (5,000 deliveries, 33 s when the machine is quiet)
// went past 60 s with the other core busy. The benchmark runs 100
// (ROUTER_BATCH_RECORDS=100, BENCHMARKS.md). Not parallel: its records keep
// moto busy, which would slow every other test's pipeline; alone, it runs
// before the parallel tests, and it removes what it wrote (moto answers an
// index Query by walking the whole table, so its items would slow every
// later test's reads).
func TestRouterBatchOfDueRecordsFinishesWithinItsTimeout(t *testing.T) {
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	t.Cleanup(func() { removeTenantItems(t, stack.IntegrationsTable, tid) })
	for i := range 50 {
		createWebhook(t, tid, fmt.Sprintf("http://127.0.0.1:9/hook-%d", i), "maintenance.due_soon")
	}
	const assets = 20
	records := 20
	if n, err := strconv.Atoi(os.Getenv("ROUTER_BATCH_RECORDS")); err == nil && n > 0 {
		records = n
	}
	for a := range assets {
		putAsset(t, tid, fmt.Sprintf("asset_fleet%02d", a))
	}
	var batch events.DynamoDBEvent
	for i := range records {
		batch.Records = append(batch.Records, maintenanceRecord(tid, fmt.Sprintf("asset_fleet%02d", i%assets), fmt.Sprintf("wo_%03d", i), isoIn(3*day), i))
	}
	router, err := streamrouter.Build(ctx, stack.Config.StreamRouter, stack.Principals["StreamRouterFunction"].AWS)
	if err != nil {
		t.Fatal(err)
	}
	q, url := scratchQueue(t)
	enq := router.Enqueuer.(*delivery.Enqueuer)
	enq.Queue.SQS, enq.Queue.URL = q, url

	timeout := templateTimeout(t, "StreamRouterFunction")
	deadline, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	resp, err := router.Handle(deadline, batch)
	t.Logf("%d due records x 50 webhooks: %s (Timeout %s)", records, time.Since(start).Round(time.Millisecond), timeout)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("the batch did not finish within %s: %v %+v", timeout, err, resp)
	}
	if n := queued(t, q, url); n != records*50 {
		t.Fatalf("%d alert deliveries queued, want %d", n, records*50)
	}
}

// keptForRetry reads the alerts a test's passes kept for a retry.
func keptForRetry(t *testing.T, p *alert.Pass) []alert.Retry {
	t.Helper()
	kept, err := dynamo.ListPrefix[alert.Retry](context.Background(), stack.DB, "read kept alerts", stack.IntegrationsTable, p.Retries.PK, "")
	if err != nil {
		t.Fatal(err)
	}
	return kept
}

// watermarkAt reads where a test's passes have looked up to.
func watermarkAt(t *testing.T, p *alert.Pass) string {
	t.Helper()
	out, err := stack.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(stack.IntegrationsTable), Key: p.Watermark.Key.Attrs(), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return str(out.Item["at"])
}

// putDocument writes a linked document as the main app does.
func putDocument(t *testing.T, tid, assetID, docID, expiresAt, description string) {
	t.Helper()
	item := keyschema.Document(tid, assetID, docID).Attrs()
	for k, v := range map[string]string{"documentId": docID, "assetId": assetID, "name": "Certificate " + docID, "expiresAt": expiresAt,
		"description": description, "createdAt": "2026-11-01T00:00:00.000Z", "updatedAt": "2026-11-01T00:00:00.000Z"} {
		item[k] = sv(v)
	}
	putAssetsItem(t, item, docID)
}

// A document whose description makes its alert's delivery record larger than
// DynamoDB's 400 KB item limit fails for itself alone: the pass fires every
// other item's and tenant's alerts, moves its watermark to its end, and
// keeps the poisoned alert for a retry, counted. Once the main app trims the
// description (a change that moves no date, so the stream does not re-arm
// it), the next pass after the retry's wait fires it, once.
func TestAlertOfAPoisonedItemIsKeptForRetryAndHoldsUpNothing(t *testing.T) {
	t.Parallel()
	tid, other := newTenant(t, tenant.Enterprise), newTenant(t, tenant.Enterprise)
	for _, id := range []string{tid, other} {
		expect(t, call(t, "PATCH", "/api/integrations/alert-settings", token(t, id, "Owner"), map[string]any{"documentDays": 1, "warrantyDays": 1}), 200, "")
	}
	rv, otherRv := newReceiver(t, nil), newReceiver(t, nil)
	createWebhook(t, tid, rv.URL, alert.Events...)
	createWebhook(t, other, otherRv.URL, alert.Events...)
	putAsset(t, tid, "asset_cabinet")
	// Quotes double in JSON: a 220 KB description is a 440 KB payload.
	putDocument(t, tid, "asset_cabinet", "doc_huge", "2034-03-02T00:00:00.000Z", strings.Repeat(`"`, 220_000))
	putDocument(t, tid, "asset_cabinet", "doc_small", "2034-03-02T06:00:00.000Z", "Annual inspection")
	key, _ := newKey(t, other, "asset:create")
	createAsset(t, key, map[string]any{"name": "Press", "categoryName": "M", "statusName": "A", "warrantyExpiresAt": "2034-03-02T03:00:00.000Z"})
	settled(t, tid, other)

	p := newPass(t, "2034-02-28T00:00:00.000Z")
	r := passAt(t, p, "2034-03-01T12:00:00.000Z")
	settled(t, tid, other)
	names := func() (out []string) {
		for _, d := range alertsReceived(t, rv)["document.expiring"] {
			out = append(out, d["document"].(map[string]any)["documentId"].(string))
		}
		return out
	}
	if got := names(); !slices.Equal(got, []string{"doc_small"}) || len(alertsReceived(t, otherRv)["warranty.expiring"]) != 1 {
		t.Fatalf("after the pass: documents %v, other tenant %v (want doc_small and one warranty)", got, counts(alertsReceived(t, otherRv)))
	}
	if r.Fired != 2 || r.Failed != 1 || r.Unfinished != 0 || watermarkAt(t, p) != isotime.Format(r.To) {
		t.Fatalf("pass %+v, watermark %s: want 2 fired, 1 failed, the watermark at its end; the tenant's items: %v", r, watermarkAt(t, p), tenantItemKeys(t, stack.IntegrationsTable, tid))
	}
	kept := keptForRetry(t, p)
	if len(kept) != 1 || kept[0].ItemSK != "DOC#doc_huge" || kept[0].Attempts != 1 || !strings.Contains(kept[0].Reason, "DynamoDB refused the write") {
		t.Fatalf("kept for a retry: %+v", kept)
	}

	// Before its wait is over a pass leaves it; after, it fires (trimmed).
	putDocument(t, tid, "asset_cabinet", "doc_huge", "2034-03-02T00:00:00.000Z", "Trimmed")
	settled(t, tid)
	if again := passAt(t, p, "2034-03-01T12:05:00.000Z"); again.Fired != 0 || len(keptForRetry(t, p)) != 1 {
		t.Fatalf("a pass before the retry's time: %+v", again)
	}
	later := passAt(t, p, "2034-03-01T12:20:00.000Z")
	settled(t, tid, other)
	if got := names(); later.Fired != 1 || len(got) != 2 || got[1] != "doc_huge" || len(keptForRetry(t, p)) != 0 {
		t.Fatalf("the retry: %+v, documents %v, still kept %d", later, got, len(keptForRetry(t, p)))
	}
}

// A webhook whose item does not decode gets no alerts and holds up none
// (nor does an index entry that does not decode):
// its tenant's other webhooks get theirs, from a pass and from the stream
// router alike (as they get the tenant's ordinary events), nothing is kept
// for a retry, the pass's watermark moves on, and the item is counted.
func TestAnUnreadableWebhookHoldsUpNoAlerts(t *testing.T) {
	t.Parallel()
	broken, healthy := newTenant(t, tenant.Enterprise), newTenant(t, tenant.Enterprise)
	rvs, keys := map[string]*receiver{}, map[string]string{}
	for _, id := range []string{broken, healthy} {
		expect(t, call(t, "PATCH", "/api/integrations/alert-settings", token(t, id, "Owner"), map[string]any{"warrantyDays": 1}), 200, "")
		rvs[id] = newReceiver(t, nil)
		createWebhook(t, id, rvs[id].URL, "warranty.expiring")
		keys[id], _ = newKey(t, id, "asset:create")
		createAsset(t, keys[id], map[string]any{"name": "Crane", "categoryName": "M", "statusName": "A", "warrantyExpiresAt": "2035-03-02T00:00:00.000Z"})
	}
	settled(t, broken, healthy)
	// A webhook item in another shape (events as a number), written after the
	// tenant's asset changes were routed; and an index entry of that day in
	// another shape (a faulty release's), which is skipped, not fatal.
	putUnreadableWebhook(t, broken, "wh_bad")
	entry := keyschema.Key{PK: keyschema.DuePK("warranty", "2035-03-02", 0), SK: keyschema.DueSK("2035-03-02T01:00:00.000Z", "TENANT#"+broken+"#ASSET#asset_odd", "ASSET")}.Attrs()
	entry["dueAt"] = &types.AttributeValueMemberBOOL{Value: true}
	if _, err := stack.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(stack.IntegrationsTable), Item: entry}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // other tests' passes may read that day
		_, _ = stack.DB.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(stack.IntegrationsTable), Key: map[string]types.AttributeValue{"PK": entry["PK"], "SK": entry["SK"]}})
	})

	p := newPass(t, "2035-02-28T00:00:00.000Z")
	r := passAt(t, p, "2035-03-01T12:00:00.000Z")
	settled(t, broken, healthy)
	if n, m := len(rvs[healthy].requests()), len(rvs[broken].requests()); n != 1 || m != 1 {
		t.Fatalf("from the pass: the healthy tenant got %d alerts, the one with an unreadable webhook %d (want 1 each)", n, m)
	}
	if r.Fired != 2 || r.Failed != 0 || watermarkAt(t, p) != isotime.Format(r.To) || len(keptForRetry(t, p)) != 0 {
		t.Fatalf("pass %+v, watermark %s, kept %d", r, watermarkAt(t, p), len(keptForRetry(t, p)))
	}

	// A warranty ending in 12 hours is due at once: the stream router fires it.
	createAsset(t, keys[broken], map[string]any{"name": "Hoist", "categoryName": "M", "statusName": "A", "warrantyExpiresAt": isoIn(12 * time.Hour)})
	settled(t, broken)
	got := alertsReceived(t, rvs[broken])["warranty.expiring"]
	if len(got) != 2 || got[1]["assetName"] != "Hoist" {
		t.Fatalf("from the stream router: %v", counts(alertsReceived(t, rvs[broken])))
	}
}

// A tenant's alert settings item that does not decode holds up nothing:
// passes go on for every tenant (they failed whole before), the stream
// router fires what a change makes due (it failed the batch, and with it
// other tenants' records), and the tenant's alerts follow the default lead
// times (30 days for a warranty) until the item is repaired. Its dates are
// in 2037, a year no other test's are in: a pass fires every alert of its
// window, whichever test wrote it (and TestAlertPassOutOfTimeSavesItsProgress
// waits for its own to fire by its pass).
func TestUnreadableAlertSettingsHoldUpNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	odd, ok := newTenant(t, tenant.Enterprise), newTenant(t, tenant.Enterprise)
	expect(t, call(t, "PATCH", "/api/integrations/alert-settings", token(t, ok, "Owner"), map[string]any{"warrantyDays": 1}), 200, "")
	bad := keyschema.AlertSettings(odd).Attrs()
	bad["tenantId"], bad["warrantyDays"] = sv(odd), sv("thirty") // a string where a number belongs
	if _, err := stack.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(stack.IntegrationsTable), Item: bad}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // other tests' passes read every tenant's settings
		_, _ = stack.DB.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(stack.IntegrationsTable), Key: keyschema.AlertSettings(odd).Attrs()})
	})
	rvs, keys := map[string]*receiver{}, map[string]string{}
	for id, warranty := range map[string]string{odd: "2037-03-31T00:00:00.000Z", ok: "2037-03-02T00:00:00.000Z"} {
		rvs[id] = newReceiver(t, nil)
		createWebhook(t, id, rvs[id].URL, "warranty.expiring")
		keys[id], _ = newKey(t, id, "asset:create")
		createAsset(t, keys[id], map[string]any{"name": "Crane", "categoryName": "M", "statusName": "A", "warrantyExpiresAt": warranty})
	}
	settled(t, odd, ok)

	p := newPass(t, "2037-02-28T00:00:00.000Z")
	r := passAt(t, p, "2037-03-01T12:00:00.000Z")
	settled(t, odd, ok)
	if n, m := len(rvs[ok].requests()), len(rvs[odd].requests()); n != 1 || m != 1 || r.Fired != 2 {
		t.Fatalf("from the pass: %d and %d alerts (want 1 each); pass %+v", n, m, r)
	}

	createAsset(t, keys[odd], map[string]any{"name": "Hoist", "categoryName": "M", "statusName": "A", "warrantyExpiresAt": isoIn(12 * time.Hour)})
	settled(t, odd)
	if got := alertsReceived(t, rvs[odd])["warranty.expiring"]; len(got) != 2 || got[1]["assetName"] != "Hoist" {
		t.Fatalf("from the stream router: %v", counts(alertsReceived(t, rvs[odd])))
	}
}

// cutOff runs a pass out of time once the alerts of the given assets are
// marked fired, deterministically: it cancels the pass's context then, and
// any other alert's marker waits for that and fails with it.
type cutOff struct {
	dynamo.API
	mu     sync.Mutex
	first  map[string]bool // asset ids to fire before the cut
	left   map[string]bool // of which still to fire
	cancel context.CancelFunc
}

func (c *cutOff) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if pk := str(in.Item["PK"]); strings.Contains(pk, "#ALERT#") && !c.first[strings.Split(pk, "#")[3]] {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Minute): // the cut never came: fail, not hang (another test's pass fired the first alerts?)
			return nil, errors.New("cutOff: the first alerts were never marked fired by this pass")
		}
	}
	return c.API.PutItem(ctx, in, o...)
}

func (c *cutOff) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	out, err := c.API.UpdateItem(ctx, in, o...)
	if err == nil && strings.HasPrefix(aws.ToString(in.UpdateExpression), "SET #state = :fired") {
		c.mu.Lock()
		for id := range c.left {
			if strings.Contains(str(in.Key["PK"]), "#ALERT#"+id+"#") {
				delete(c.left, id)
			}
		}
		if len(c.left) == 0 {
			c.cancel()
		}
		c.mu.Unlock()
	}
	return out, err
}

// A pass that runs out of time keeps what it finished: its watermark moves
// to just before the first alert it did not finish, and the next pass goes
// on from there, firing the rest; every alert goes out once, none is skipped.
func TestAlertPassOutOfTimeSavesItsProgress(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	expect(t, call(t, "PATCH", "/api/integrations/alert-settings", token(t, tid, "Owner"), map[string]any{"warrantyDays": 1}), 200, "")
	rv := newReceiver(t, nil)
	createWebhook(t, tid, rv.URL, "warranty.expiring")
	key, _ := newKey(t, tid, "asset:create")
	const n, cut = 40, 10
	first := map[string]bool{}
	start, _ := isotime.Parse("2036-03-02T00:00:00.000Z")
	for i := range n {
		id := createAsset(t, key, map[string]any{"name": fmt.Sprint("W", i), "categoryName": "M", "statusName": "A", "warrantyExpiresAt": isotime.Format(start.Add(time.Duration(i) * time.Hour))})["assetId"].(string)
		if i < cut {
			first[id] = true
		}
	}
	settled(t, tid)

	p := newPass(t, "2036-02-28T00:00:00.000Z")
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(time.Hour))
	defer cancel()
	cutting := *p
	f := *p.Firer
	f.DB = &cutOff{API: f.DB, first: first, left: maps.Clone(first), cancel: cancel}
	cutting.Firer = &f
	now, _ := isotime.Parse("2036-03-03T00:00:00.000Z")
	r1, err := cutting.Run(ctx, now.Add(alert.PassLag))
	if err != nil {
		t.Fatalf("a pass out of time failed: %v", err)
	}
	firstLeft, _ := isotime.Parse("2036-03-01T10:00:00.000Z") // the 11th warranty's warning
	if r1.Fired != cut || r1.Unfinished != n-cut || !r1.Watermark.Equal(firstLeft.Add(-time.Millisecond)) || watermarkAt(t, p) != isotime.Format(r1.Watermark) {
		t.Fatalf("the cut pass: %+v, stored watermark %s (want %d fired, the watermark just before %s)", r1, watermarkAt(t, p), cut, isotime.Format(firstLeft))
	}
	r2 := passAt(t, p, "2036-03-03T00:00:00.000Z")
	settled(t, tid)
	if !r2.From.Equal(r1.Watermark) || r2.Candidates != n-cut || r2.Fired != n-cut || r2.Unfinished != 0 {
		t.Fatalf("the next pass: %+v after %+v (want it to start at the saved watermark and fire the rest)", r2, r1)
	}
	got := alertsReceived(t, rv)["warranty.expiring"]
	dates := map[any]int{}
	for _, d := range got {
		dates[d["dueDate"]]++
	}
	if len(got) != n || len(dates) != n {
		for _, d := range allDeliveries(t, tid) { // what became of each
			t.Logf("%s %s attempts=%d %s %q", d.DeliveryID, d.Status, d.Attempts, d.Event, d.LastError)
		}
		t.Fatalf("%d alerts over %d dates, want %d once each", len(got), len(dates), n)
	}
}

// documentRecord is the stream record of a linked document inserted.
func documentRecord(tid, assetID, docID, expiresAt, description string, n int) events.DynamoDBEventRecord {
	k := keyschema.Document(tid, assetID, docID)
	s := events.NewStringAttribute
	return events.DynamoDBEventRecord{
		EventID: fmt.Sprintf("doc-%s-%d", tid, n), EventName: "INSERT",
		Change: events.DynamoDBStreamRecord{
			SequenceNumber: fmt.Sprint(7000 + n),
			Keys:           map[string]events.DynamoDBAttributeValue{"PK": s(k.PK), "SK": s(k.SK)},
			NewImage: map[string]events.DynamoDBAttributeValue{
				"PK": s(k.PK), "SK": s(k.SK), "documentId": s(docID), "assetId": s(assetID), "name": s("Certificate " + docID),
				"description": s(description), "expiresAt": s(expiresAt), "createdAt": s(isoIn(0)), "updatedAt": s(isoIn(0)),
			},
		},
	}
}

// A stream record whose alert fails for its item alone (its delivery record
// would exceed 400 KB) is skipped, kept for the passes to retry: the batch
// reports no failure, so Lambda neither retries nor bisects it, and the
// other records' alerts go out.
func TestRouterSkipsARecordWhoseAlertIsPoisoned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	rv := newReceiver(t, nil)
	createWebhook(t, tid, rv.URL, "document.expiring")
	putAsset(t, tid, "asset_a")
	putAsset(t, tid, "asset_b")
	router, err := streamrouter.Build(ctx, stack.Config.StreamRouter, stack.Principals["StreamRouterFunction"].AWS)
	if err != nil {
		t.Fatal(err)
	}
	retries := router.Alerts.(*alert.Arming).Retries
	retries.PK = keyschema.AlertRetryPK + "#TEST#" + t.Name()
	due := isoIn(2 * day)
	batch := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		documentRecord(tid, "asset_a", "doc_huge", due, strings.Repeat(`"`, 220_000), 0),
		documentRecord(tid, "asset_a", "doc_small", due, "Annual", 1),
		documentRecord(tid, "asset_b", "doc_other", due, "Annual", 2),
	}}
	resp, err := router.Handle(ctx, batch)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("the batch: %v %+v (want no failure)", err, resp)
	}
	settled(t, tid)
	var got []string
	for _, d := range alertsReceived(t, rv)["document.expiring"] {
		got = append(got, d["document"].(map[string]any)["documentId"].(string))
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"doc_other", "doc_small"}) {
		t.Fatalf("alerts for %v, want doc_other and doc_small", got)
	}
	kept, err := dynamo.ListPrefix[alert.Retry](ctx, stack.DB, "read kept alerts", stack.IntegrationsTable, retries.PK, "")
	if err != nil || len(kept) != 1 || kept[0].ItemSK != "DOC#doc_huge" || kept[0].Attempts != 1 {
		t.Fatalf("kept for a retry: %+v %v", kept, err)
	}
}

// putUnreadableWebhook writes a webhook item in another shape (events as a
// number): it does not decode.
func putUnreadableWebhook(t *testing.T, tid, id string) {
	t.Helper()
	bad := keyschema.Webhook(tid, id).Attrs()
	for k, v := range map[string]types.AttributeValue{"tenantId": sv(tid), "webhookId": sv(id), "name": sv("bad"), "url": sv("https://example.com"),
		"events": &types.AttributeValueMemberN{Value: "7"}, "status": sv("active")} {
		bad[k] = v
	}
	if _, err := stack.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(stack.IntegrationsTable), Item: bad}); err != nil {
		t.Fatal(err)
	}
}

// tenantItemKeys lists the keys of the items that name the tenant (a
// failure's evidence: which index entries and records exist).
func tenantItemKeys(t *testing.T, table, tid string) []string {
	var keys []string
	p := dynamodb.NewScanPaginator(stack.DB, &dynamodb.ScanInput{TableName: aws.String(table), ProjectionExpression: aws.String("PK, SK, tenantId")})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			return append(keys, "scan: "+err.Error())
		}
		for _, it := range page.Items {
			if str(it["tenantId"]) == tid || strings.Contains(str(it["PK"]), tid) {
				keys = append(keys, str(it["PK"])+" "+str(it["SK"]))
			}
		}
	}
	return keys
}

// removeTenantItems deletes every item of IntegrationsTable that names the
// tenant in its keys (a load test's records, markers and index entries).
func removeTenantItems(t *testing.T, table, tid string) {
	ctx := context.Background()
	var keys []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(stack.DB, &dynamodb.ScanInput{TableName: aws.String(table), ProjectionExpression: aws.String("PK, SK")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Errorf("scan for cleanup: %v", err)
			return
		}
		for _, it := range page.Items {
			if strings.Contains(str(it["PK"]), tid) || strings.Contains(str(it["SK"]), tid) {
				keys = append(keys, it)
			}
		}
	}
	for start := 0; start < len(keys); start += 25 {
		var reqs []types.WriteRequest
		for _, k := range keys[start:min(start+25, len(keys))] {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
		}
		for len(reqs) > 0 {
			out, err := stack.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
			if err != nil {
				t.Errorf("cleanup: %v", err)
				return
			}
			reqs = out.UnprocessedItems[table]
		}
	}
}

// A webhook item that does not decode holds up nothing of its tenant's
// events: the stream router leaves it out (counted, alarmed) and the
// tenant's other webhooks get their deliveries at once, where before the
// record failed and was retried, holding the shard, until it was dropped.
func TestUnreadableWebhookHoldsUpItsTenantsEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	rv := newReceiver(t, nil)
	createWebhook(t, tid, rv.URL, "asset.created")
	putUnreadableWebhook(t, tid, "wh_unreadable")
	t.Cleanup(func() {
		_, _ = stack.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(stack.IntegrationsTable), Key: keyschema.Webhook(tid, "wh_unreadable").Attrs()})
	})
	key, _ := newKey(t, tid, allPermissions...)
	createAsset(t, key, nil)
	waitFor(t, 60*time.Second, "the readable webhook's delivery", func() bool { return len(rv.requests()) == 1 })
	settled(t, tid)
	recs := allDeliveries(t, tid)
	if len(recs) != 1 || recs[0].Status != delivery.Delivered {
		t.Fatalf("deliveries %+v, want the readable webhook's one, delivered", recs)
	}

	// Nor does it hide the others from their owner (the list and the
	// overview answered 500).
	owner := token(t, tid, "Owner")
	list := call(t, "GET", "/api/integrations/webhooks", owner, nil)
	expect(t, list, 200, "")
	if hooks := list.json(t)["webhooks"].([]any); len(hooks) != 1 {
		t.Fatalf("the owner's list: %s", list.Body)
	}
	overview := call(t, "GET", "/api/integrations/overview", owner, nil)
	expect(t, overview, 200, "")
	if total := overview.json(t)["webhooks"].(map[string]any)["total"]; total != 1.0 {
		t.Fatalf("overview: %s", overview.Body)
	}
}
