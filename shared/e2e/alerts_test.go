package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/devstack"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/tenant"
)

// Lead times: defaults until changed, each change kept, bad values refused
// with the field named and nothing written.
func TestAlertSettings(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	const path = "/api/integrations/alert-settings"
	got := call(t, "GET", path, owner, nil).json(t)
	if got["maintenanceDays"] != 7.0 || got["documentDays"] != 30.0 || got["warrantyDays"] != 30.0 || got["updatedAt"] != nil {
		t.Fatalf("defaults: %v", got)
	}
	r := call(t, "PATCH", path, owner, map[string]any{"maintenanceDays": 14, "warrantyDays": 10})
	expect(t, r, 200, "")
	if m := r.json(t); m["maintenanceDays"] != 14.0 || m["documentDays"] != 30.0 || m["warrantyDays"] != 10.0 || m["updatedBy"] == nil {
		t.Fatalf("after the change: %v", m)
	}
	for body, field := range map[string]string{
		`{"maintenanceDays":0}`:                "maintenanceDays",
		`{"documentDays":181}`:                 "documentDays",
		`{"warrantyDays":"30"}`:                "warrantyDays",
		`{"warrantyDays":7.5}`:                 "warrantyDays",
		`{"warrantyDays":null}`:                "warrantyDays",
		`{"leadDays":3}`:                       "leadDays",
		`{}`:                                   "body",
		`{"maintenanceDays":1e400}`:            "maintenanceDays",
		`{"maintenanceDays":9007199254740993}`: "maintenanceDays",
	} {
		r := call(t, "PATCH", path, owner, []byte(body))
		expect(t, r, 400, "VALIDATION_ERROR")
		if !strings.Contains(string(r.Body), `"field":"`+field+`"`) {
			t.Errorf("%s: the error does not name %s: %s", body, field, r.Body)
		}
	}
	if m := call(t, "GET", path, owner, nil).json(t); m["maintenanceDays"] != 14.0 || m["warrantyDays"] != 10.0 {
		t.Fatalf("a refused change wrote something: %v", m)
	}
	expect(t, call(t, "PATCH", path, token(t, tid, "Admin"), map[string]any{"maintenanceDays": 3}), 403, "FORBIDDEN")
	expect(t, call(t, "GET", path, token(t, newTenant(t, tenant.Growth), "Owner"), nil), 403, "ENTERPRISE_REQUIRED")
	other := newTenant(t, tenant.Enterprise)
	if m := call(t, "GET", path, token(t, other, "Owner"), nil).json(t); m["maintenanceDays"] != 7.0 {
		t.Fatalf("another tenant sees this tenant's settings: %v", m)
	}
}

// alertsReceived are the alert deliveries a receiver got, by event, with each
// one's data.
// A delivery sent again under the same webhook-id (its attempt's answer
// came after the delivery timeout, so it was retried: at-least-once) is
// the message the receiver already has, counted once, as a receiver that
// deduplicates by webhook-id counts it.
func alertsReceived(t *testing.T, rv *receiver) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	seen := map[string]bool{}
	for _, r := range rv.requests() {
		if id := r.Header.Get("webhook-id"); id != "" {
			if seen[id] {
				continue
			}
			seen[id] = true
		}
		var p struct {
			Event string         `json:"event"`
			Data  map[string]any `json:"data"`
		}
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		if alert.IsEvent(p.Event) {
			out[p.Event] = append(out[p.Event], p.Data)
		}
	}
	return out
}

func isoIn(d time.Duration) string { return isotime.Format(time.Now().Add(d)) }

const day = 24 * time.Hour

// A date written inside its lead time (or already passed) fires at once,
// from the stream: each alert once, to the subscribed active webhooks only;
// moving the date re-arms it; a performed maintenance is not overdue.
func TestAlertsOfDatesWrittenAlreadyDue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, "asset:create", "asset:update", "maintenance:create")
	rv := newReceiver(t, nil)
	createWebhook(t, tid, rv.URL, alert.Events...)
	paused := newReceiver(t, nil)
	pausedID, _ := createWebhook(t, tid, paused.URL, alert.Events...)
	expect(t, call(t, "POST", "/api/integrations/webhooks/"+pausedID+"/pause", token(t, tid, "Owner"), nil), 200, "")

	warranty := createAsset(t, key, map[string]any{"name": "Press", "categoryName": "Machines", "statusName": "ACTIVE", "warrantyExpiresAt": isoIn(10 * day), "externalId": "ERP-1"})
	licence := createAsset(t, key, map[string]any{"name": "Licence", "categoryName": "Docs", "statusName": "ACTIVE", "type": "document", "expiresAt": isoIn(5 * day)})
	createAsset(t, key, map[string]any{"name": "Far", "categoryName": "Docs", "statusName": "ACTIVE", "type": "document", "expiresAt": isoIn(90 * day), "warrantyExpiresAt": isoIn(90 * day)})
	pressID := warranty["assetId"].(string)
	soon := call(t, "POST", "/api/integrations/assets/maintenance", key, map[string]any{"assetId": pressID, "title": "Oil change", "dueAt": isoIn(3 * day)})
	expect(t, soon, 201, "")
	expect(t, call(t, "POST", "/api/integrations/assets/maintenance", key, map[string]any{"assetId": pressID, "title": "Late", "dueAt": isoIn(-day)}), 201, "")
	expect(t, call(t, "POST", "/api/integrations/assets/maintenance", key, map[string]any{"assetId": pressID, "title": "Done", "dueAt": isoIn(-day), "performedAt": isoIn(-time.Hour)}), 201, "")
	expect(t, call(t, "POST", "/api/integrations/assets/maintenance", key, map[string]any{"assetId": pressID, "title": "History", "dueAt": isoIn(-60 * day)}), 201, "")
	// A document the main app links to the asset, already expired.
	doc := keyschema.Document(tid, pressID, "doc_1").Attrs()
	for k, v := range map[string]string{"documentId": "doc_1", "assetId": pressID, "name": "Inspection certificate", "expiresAt": isoIn(-2 * day), "createdAt": isoIn(-day), "updatedAt": isoIn(-day)} {
		doc[k] = &types.AttributeValueMemberS{Value: v}
	}
	if _, err := stack.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(stack.AssetsTable), Item: doc}); err != nil {
		t.Fatal(err)
	}
	settled(t, tid)
	got := alertsReceived(t, rv)
	want := map[string]int{"warranty.expiring": 1, "document_asset.expiring": 1, "maintenance.due_soon": 1, "maintenance.overdue": 1, "document.expired": 1}
	for ev, n := range want {
		if len(got[ev]) != n {
			t.Errorf("%s: %d deliveries, want %d", ev, len(got[ev]), n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if w := got["warranty.expiring"]; len(w) == 1 {
		if w[0]["assetId"] != pressID || w[0]["externalId"] != "ERP-1" || w[0]["daysRemaining"] != 9.0 && w[0]["daysRemaining"] != 10.0 || w[0]["asset"] == nil {
			t.Errorf("warranty data: %v", w[0])
		}
	}
	if m := got["maintenance.due_soon"]; len(m) == 1 {
		if m[0]["assetName"] != "Press" || m[0]["maintenance"].(map[string]any)["title"] != "Oil change" {
			t.Errorf("due_soon data: %v", m[0])
		}
	}
	if d := got["document.expired"]; len(d) == 1 {
		if d[0]["document"].(map[string]any)["name"] != "Inspection certificate" || d[0]["daysRemaining"].(float64) > -2 {
			t.Errorf("document data: %v", d[0])
		}
	}
	if n := len(paused.requests()); n != 0 {
		t.Errorf("a paused webhook got %d alerts", n)
	}

	// Moving the warranty re-arms it; writing the same date again does not.
	expect(t, call(t, "POST", "/api/integrations/assets/update", key, map[string]any{"assetId": pressID, "warrantyExpiresAt": isoIn(20 * day)}), 200, "")
	expect(t, call(t, "POST", "/api/integrations/assets/update", key, map[string]any{"assetId": pressID, "name": "Press 2"}), 200, "")
	// Removing the document asset's date: nothing more about it.
	expect(t, call(t, "POST", "/api/integrations/assets/update", key, map[string]any{"assetId": licence["assetId"], "expiresAt": nil}), 200, "")
	settled(t, tid)
	got = alertsReceived(t, rv)
	if len(got["warranty.expiring"]) != 2 || len(got["document_asset.expiring"]) != 1 {
		t.Errorf("after the moves: warranty %d (want 2), document asset %d (want 1)", len(got["warranty.expiring"]), len(got["document_asset.expiring"]))
	}
	if w := got["warranty.expiring"]; len(w) == 2 && w[0]["dueDate"] == w[1]["dueDate"] {
		t.Errorf("the re-armed alert carries the old date: %v", w[1])
	}
}

// newPass is ExpiryAlertsFunction's handler as the stack built it, keeping
// its watermark apart from other tests' passes (which look at other years).
func newPass(t *testing.T, from string) *alert.Pass {
	t.Helper()
	p := *stack.Alerts
	p.Watermark.Key = keyschema.Key{PK: keyschema.AlertWatermark().PK, SK: "TEST#" + t.Name()}
	p.Retries = &alert.Retries{DB: p.Retries.DB, Table: p.Retries.Table, PK: keyschema.AlertRetryPK + "#TEST#" + t.Name()}
	item := p.Watermark.Key.Attrs()
	item["at"] = &types.AttributeValueMemberS{Value: from}
	if _, err := stack.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(stack.IntegrationsTable), Item: item}); err != nil {
		t.Fatal(err)
	}
	return &p
}

func passAt(t *testing.T, p *alert.Pass, at string) alert.Result {
	t.Helper()
	now, err := isotime.Parse(at)
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Run(context.Background(), now.Add(alert.PassLag))
	if err != nil {
		t.Fatalf("pass as of %s: %v", at, err)
	}
	return r
}

func counts(got map[string][]map[string]any) map[string]int {
	out := map[string]int{}
	for ev, ds := range got {
		out[ev] = len(ds)
	}
	return out
}

// Each of the seven events from scheduled passes as of chosen times in 2030
// (lead times of one day, so a few days of passes cover every milestone),
// through items written by the API and by the main app: every milestone in
// days without a pass fires once; running the same pass again fires nothing;
// a moved date fires again for its new date; a performed maintenance, a
// paused webhook and another tenant get nothing.
func TestAlertPassesFireEachMilestoneOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid, other := newTenant(t, tenant.Enterprise), newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, "asset:create", "asset:update", "maintenance:create")
	expect(t, call(t, "PATCH", "/api/integrations/alert-settings", token(t, tid, "Owner"), map[string]any{"maintenanceDays": 1, "documentDays": 1, "warrantyDays": 1}), 200, "")
	rv, otherRv, pausedRv := newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil)
	createWebhook(t, tid, rv.URL, alert.Events...)
	createWebhook(t, other, otherRv.URL, alert.Events...)
	pausedID, _ := createWebhook(t, tid, pausedRv.URL, alert.Events...)
	expect(t, call(t, "POST", "/api/integrations/webhooks/"+pausedID+"/pause", token(t, tid, "Owner"), nil), 200, "")

	press := createAsset(t, key, map[string]any{"name": "Press", "categoryName": "Machines", "statusName": "ACTIVE", "warrantyExpiresAt": "2030-03-01"})["assetId"].(string)
	createAsset(t, key, map[string]any{"name": "Licence", "categoryName": "Docs", "statusName": "ACTIVE", "type": "document", "expiresAt": "2030-03-02"})
	expect(t, call(t, "POST", "/api/integrations/assets/maintenance", key, map[string]any{"assetId": press, "title": "Overhaul", "dueAt": "2030-03-04"}), 201, "")
	done := call(t, "POST", "/api/integrations/assets/maintenance", key, map[string]any{"assetId": press, "title": "Filter", "dueAt": "2030-03-04"})
	expect(t, done, 201, "")
	doc := keyschema.Document(tid, press, "doc_cert").Attrs()
	for k, v := range map[string]string{"documentId": "doc_cert", "assetId": press, "name": "Pressure certificate", "expiresAt": "2030-03-03T00:00:00.000Z", "createdAt": "2026-11-01T00:00:00.000Z", "updatedAt": "2026-11-01T00:00:00.000Z"} {
		doc[k] = &types.AttributeValueMemberS{Value: v}
	}
	if _, err := stack.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(stack.AssetsTable), Item: doc}); err != nil {
		t.Fatal(err)
	}
	settled(t, tid)
	if n := len(alertsReceived(t, rv)); n != 0 {
		t.Fatalf("alerts for 2030 before any pass: %d", n)
	}

	p := newPass(t, "2030-02-27T00:00:00.000Z")
	r := passAt(t, p, "2030-03-01T12:00:00.000Z")
	settled(t, tid, other)
	want := map[string]int{"warranty.expiring": 1, "document_asset.expiring": 1}
	if got := counts(alertsReceived(t, rv)); !maps.Equal(got, want) || r.Fired != 2 {
		t.Fatalf("first pass: %v (fired %d), want %v", got, r.Fired, want)
	}
	if again := passAt(t, p, "2030-03-01T12:00:00.000Z"); again.Fired != 0 {
		t.Fatalf("the same pass again fired %d", again.Fired)
	}

	// Before the next pass: the warranty moves to a later date, and the
	// filter change is performed (the main app records it).
	expect(t, call(t, "POST", "/api/integrations/assets/update", key, map[string]any{"assetId": press, "warrantyExpiresAt": "2030-03-05"}), 200, "")
	filter := keyschema.Maintenance(tid, press, done.json(t)["maintenanceId"].(string)).Attrs()
	if _, err := stack.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(stack.AssetsTable), Key: filter,
		UpdateExpression:          aws.String("SET performedAt = :p, #s = :c"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "2030-03-01T13:00:00.000Z"}, ":c": &types.AttributeValueMemberS{Value: "completed"}},
	}); err != nil {
		t.Fatal(err)
	}
	settled(t, tid)
	r = passAt(t, p, "2030-03-05T00:00:00.000Z") // three and a half days without a pass
	settled(t, tid, other)
	want = map[string]int{"warranty.expiring": 2, "document_asset.expiring": 1, "document.expiring": 1,
		"maintenance.due_soon": 1, "maintenance.overdue": 1, "document_asset.expired": 1, "document.expired": 1}
	got := alertsReceived(t, rv)
	if !maps.Equal(counts(got), want) || r.Fired != 6 {
		t.Fatalf("second pass: %v (fired %d), want %v", counts(got), r.Fired, want)
	}
	if w := got["warranty.expiring"]; w[1]["dueDate"] != "2030-03-05T00:00:00.000Z" || w[1]["daysRemaining"] != 0.0 {
		t.Errorf("the re-armed warranty alert: %v", w[1])
	}
	if o := got["maintenance.overdue"][0]; o["daysRemaining"] != -1.0 || o["maintenance"].(map[string]any)["title"] != "Overhaul" {
		t.Errorf("overdue data: %v", o)
	}
	if n := len(pausedRv.requests()) + len(otherRv.requests()); n != 0 {
		t.Errorf("a paused webhook or another tenant got %d alerts", n)
	}
}

// deadQueue is a queue that fails every Send: a pass that dies after
// writing its markers and delivery records and before queueing them.
type deadQueue struct{ alert.Deliveries }

func (deadQueue) Send(context.Context, []delivery.Key) error { return errors.New("queue unreachable") }

// Exactly once when passes overlap (two at once over the same stretch) and
// when a pass dies between marking an alert and queueing it (the next pass
// reads the same stretch again and the alert still goes out, once).
func TestAlertPassesAreExactlyOnce(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, "asset:create")
	expect(t, call(t, "PATCH", "/api/integrations/alert-settings", token(t, tid, "Owner"), map[string]any{"warrantyDays": 1}), 200, "")
	rv := newReceiver(t, nil)
	createWebhook(t, tid, rv.URL, "warranty.expiring")
	for _, d := range []string{"2031-02-02", "2031-02-03", "2031-02-04"} {
		createAsset(t, key, map[string]any{"name": "W " + d, "categoryName": "M", "statusName": "A", "warrantyExpiresAt": d})
	}
	settled(t, tid)

	p := newPass(t, "2031-01-31T00:00:00.000Z")
	q := *p
	var wg sync.WaitGroup
	for _, pass := range []*alert.Pass{p, &q} {
		wg.Go(func() { passAt(t, pass, "2031-02-04T00:00:00.000Z") })
	}
	wg.Wait()
	settled(t, tid)
	if got := alertsReceived(t, rv)["warranty.expiring"]; len(got) != 3 {
		t.Fatalf("two overlapping passes: %d alerts for 3 warranties", len(got))
	}

	for _, d := range []string{"2031-02-06", "2031-02-07"} {
		createAsset(t, key, map[string]any{"name": "W " + d, "categoryName": "M", "statusName": "A", "warrantyExpiresAt": d})
	}
	settled(t, tid)
	crashing := *p
	f := *p.Firer
	f.Deliveries = deadQueue{f.Deliveries}
	crashing.Firer = &f
	now, _ := isotime.Parse("2031-02-07T00:00:00.000Z")
	if _, err := crashing.Run(context.Background(), now.Add(alert.PassLag)); err == nil {
		t.Fatal("the pass whose queue failed reported success")
	}
	// It recorded deliveries (marker first, then the record) but queued
	// nothing: one or both, as the pass fires candidates concurrently and
	// starts no more after the first failure.
	var waiting int
	for _, d := range allDeliveries(t, tid) {
		if d.Status == delivery.Pending && d.Attempts == 0 {
			waiting++
		}
	}
	if waiting < 1 || waiting > 2 {
		t.Fatalf("after the failed pass: %d unsent deliveries, want the one or two it recorded", waiting)
	}
	passAt(t, p, "2031-02-07T00:00:00.000Z") // the next tick: the same stretch again
	settled(t, tid)
	got := alertsReceived(t, rv)["warranty.expiring"]
	dates := map[any]int{}
	for _, d := range got {
		dates[d["dueDate"]]++
	}
	if len(got) != 5 || len(dates) != 5 {
		t.Fatalf("after the retry: %d alerts over %d dates, want 5 and 5: %v", len(got), len(dates), dates)
	}
}

// A longer lead time takes effect at once: the dates that fall inside it now
// get their warning from the next pass, once; a shorter one owes nothing.
func TestALongerLeadTimeCatchesUp(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, "asset:create", "maintenance:create")
	rv := newReceiver(t, nil)
	createWebhook(t, tid, rv.URL, "maintenance.due_soon", "warranty.expiring")
	press := createAsset(t, key, map[string]any{"name": "Press", "categoryName": "M", "statusName": "A", "warrantyExpiresAt": isoIn(20 * day)})["assetId"].(string)
	expect(t, call(t, "POST", "/api/integrations/assets/maintenance", key, map[string]any{"assetId": press, "title": "In 10 days", "dueAt": isoIn(10 * day)}), 201, "")
	expect(t, call(t, "POST", "/api/integrations/assets/maintenance", key, map[string]any{"assetId": press, "title": "In 20 days", "dueAt": isoIn(20 * day)}), 201, "")
	settled(t, tid)
	got := alertsReceived(t, rv)
	if len(got["maintenance.due_soon"]) != 0 || len(got["warranty.expiring"]) != 1 {
		t.Fatalf("before the change: %v", counts(got))
	}
	owner := token(t, tid, "Owner")
	expect(t, call(t, "PATCH", "/api/integrations/alert-settings", owner, map[string]any{"maintenanceDays": 14, "warrantyDays": 10}), 200, "")
	p := newPass(t, isotime.Format(time.Now().Add(-time.Hour)))
	// A change that grows nothing, between the pass's read and its end,
	// must not keep the catch-up owed (an Owner changing lead times without
	// pause would otherwise make every pass read it again).
	var patched sync.Once
	p.Settings = &alert.SettingsStore{DB: settleHook{API: stack.Alerts.Settings.DB, before: func() {
		patched.Do(func() {
			expect(t, call(t, "PATCH", "/api/integrations/alert-settings", owner, map[string]any{"documentDays": 20}), 200, "")
		})
	}}, Table: stack.IntegrationsTable}
	r := passAt(t, p, isotime.Format(time.Now()))
	out, err := stack.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(stack.IntegrationsTable),
		Key: keyschema.AlertSettings(tid).Attrs(), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := out.Item["catchUps"].(*types.AttributeValueMemberM); c != nil && len(c.Value) > 0 {
		t.Fatalf("catch-ups left after the pass: %v", c.Value)
	}
	if d, _ := out.Item["documentDays"].(*types.AttributeValueMemberN); d == nil || d.Value != "20" {
		t.Fatalf("the change during the pass: documentDays %v", out.Item["documentDays"])
	}
	settled(t, tid)
	got = alertsReceived(t, rv)
	if d := got["maintenance.due_soon"]; len(d) != 1 || d[0]["maintenance"].(map[string]any)["title"] != "In 10 days" {
		t.Fatalf("after maintenance went 7 → 14 days: %v (pass %+v)", counts(got), r)
	}
	if len(got["warranty.expiring"]) != 1 {
		t.Fatalf("a shorter warranty lead fired again: %v", counts(got))
	}
	// What was owed is settled: the next pass owes nothing more.
	if again := passAt(t, p, isotime.Format(time.Now())); again.Fired != 0 {
		t.Fatalf("the catch-up fired again: %+v", again)
	}
}

// The dates alerts need are checked like every other field.
func TestAlertDatesRefusedWhenMalformed(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, "asset:create", "asset:update")
	base := map[string]any{"name": "n", "categoryName": "c", "statusName": "s"}
	for field, bad := range map[string]any{
		"warrantyExpiresAt": "2027-02-30", "expiresAt": 1767225600, "type": map[string]any{"kind": "document"},
	} {
		body := map[string]any{}
		for k, v := range base {
			body[k] = v
		}
		body[field] = bad
		r := call(t, "POST", "/api/integrations/assets/create", key, body)
		expect(t, r, 400, "VALIDATION_ERROR")
		if !strings.Contains(string(r.Body), `"field":"`+field+`"`) {
			t.Errorf("%s=%v: %s", field, bad, r.Body)
		}
	}
	if n := tenantAssetCount(t, tid); n != 0 {
		t.Fatalf("a refused create wrote %d assets", n)
	}
	id := createAsset(t, key, nil)["assetId"].(string)
	r := call(t, "POST", "/api/integrations/assets/update", key, map[string]any{"assetId": id, "warrantyExpiresAt": "next year"})
	expect(t, r, 400, "VALIDATION_ERROR")
}

// Linked documents through the integration API: created with a date inside
// the lead time (document.expiring at once), moved (re-armed), removed; the
// permission, an unknown document and another tenant's asset are refused.
func TestLinkedDocumentsThroughTheAPI(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, "asset:create", "document:write")
	rv := newReceiver(t, nil)
	createWebhook(t, tid, rv.URL, "document.expiring", "document.expired")
	assetID := createAsset(t, key, map[string]any{"name": "Boiler", "categoryName": "M", "statusName": "A", "externalId": "ERP-B1"})["assetId"].(string)
	r := call(t, "POST", "/api/integrations/assets/documents", key, map[string]any{"externalId": "ERP-B1", "name": "Boiler certificate", "expiresAt": isoIn(5 * day)})
	expect(t, r, 201, "")
	doc := r.json(t)
	if doc["assetId"] != assetID || doc["name"] != "Boiler certificate" || !strings.HasPrefix(doc["documentId"].(string), "doc_") {
		t.Fatalf("created: %v", doc)
	}
	docID := doc["documentId"].(string)
	moved := call(t, "POST", "/api/integrations/assets/documents/update", key, map[string]any{"assetId": assetID, "documentId": docID, "expiresAt": isoIn(6 * day)})
	expect(t, moved, 200, "")
	settled(t, tid)
	if got := alertsReceived(t, rv)["document.expiring"]; len(got) != 2 || got[1]["document"].(map[string]any)["documentId"] != docID {
		t.Fatalf("document.expiring: %v", got)
	}
	expect(t, call(t, "POST", "/api/integrations/assets/documents/update", key, map[string]any{"assetId": assetID, "documentId": docID, "expiresAt": nil, "name": "Boiler certificate (renewed)"}), 200, "")
	for body, want := range map[string][2]any{
		`{"assetId":"` + assetID + `","documentId":"doc_missing","name":"x"}`: {404, "NOT_FOUND"},
		`{"assetId":"` + assetID + `","name":""}`:                             {400, "VALIDATION_ERROR"},
		`{"assetId":"` + assetID + `","documentId":"` + docID + `"}`:          {400, "VALIDATION_ERROR"},
	} {
		path := "/api/integrations/assets/documents/update"
		if !strings.Contains(body, "documentId") {
			path = "/api/integrations/assets/documents"
		}
		expect(t, call(t, "POST", path, key, []byte(body)), want[0].(int), want[1].(string))
	}
	own := map[string]any{"assetId": assetID, "documentId": "CERT-2027-001", "name": "Own number"}
	if r := call(t, "POST", "/api/integrations/assets/documents", key, own); r.Status != 201 || r.json(t)["documentId"] != "CERT-2027-001" {
		t.Fatalf("a document with the caller's own id: %d %s", r.Status, r.Body)
	}
	expect(t, call(t, "POST", "/api/integrations/assets/documents", key, own), 409, "CONFLICT")
	own["documentId"] = "CERT#1"
	expect(t, call(t, "POST", "/api/integrations/assets/documents", key, own), 400, "VALIDATION_ERROR")
	noPerm, _ := newKey(t, tid, "asset:create")
	expect(t, call(t, "POST", "/api/integrations/assets/documents", noPerm, map[string]any{"assetId": assetID, "name": "x"}), 403, "INSUFFICIENT_PERMISSIONS")
	otherKey, _ := newKey(t, newTenant(t, tenant.Enterprise), "document:write")
	expect(t, call(t, "POST", "/api/integrations/assets/documents", otherKey, map[string]any{"assetId": assetID, "name": "x"}), 404, "NOT_FOUND")
	settled(t, tid)
	if n := len(alertsReceived(t, rv)["document.expiring"]); n != 2 {
		t.Fatalf("after removing the date: %d alerts", n)
	}
}

// An asset item the alert code cannot decode (the main app wrote its name
// as a map) is skipped and logged, by the stream and by passes: it holds
// up neither the stream's shard nor other items' alerts.
func TestAnUnreadableItemHoldsUpNoAlert(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	expect(t, call(t, "PATCH", "/api/integrations/alert-settings", token(t, tid, "Owner"), map[string]any{"warrantyDays": 1}), 200, "")
	rv := newReceiver(t, nil)
	createWebhook(t, tid, rv.URL, alert.Events...)
	put := func(assetID string, name types.AttributeValue, warranty string) {
		t.Helper()
		item := keyschema.Asset(tid, assetID).Attrs()
		for k, v := range map[string]types.AttributeValue{"entity": sv("asset"), "tenantId": sv(tid), "assetId": sv(assetID), "assetName": name,
			"categoryName": sv("Machines"), "statusName": sv("ACTIVE"), "version": &types.AttributeValueMemberN{Value: "1"},
			"createdAt": sv("2026-11-01T00:00:00.000Z"), "updatedAt": sv("2026-11-01T00:00:00.000Z"), "warrantyExpiresAt": sv(warranty)} {
			item[k] = v
		}
		if _, err := stack.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(stack.AssetsTable), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	unreadable := &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"text": sv("Press")}}
	// Already due when written: the stream fires them (the bad one first).
	put("asset_badnow", unreadable, isoIn(12*time.Hour))
	put("asset_goodnow", sv("Press"), isoIn(12*time.Hour))
	// Due in 2032: a pass fires them.
	put("asset_badlater", unreadable, "2032-03-01T00:00:00.000Z")
	put("asset_goodlater", sv("Lathe"), "2032-03-01T00:00:00.000Z")
	settled(t, tid)
	p := newPass(t, "2032-02-27T00:00:00.000Z")
	r := passAt(t, p, "2032-03-01T00:00:00.000Z")
	settled(t, tid)
	var names []string
	for _, d := range alertsReceived(t, rv)["warranty.expiring"] {
		names = append(names, d["assetName"].(string))
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"Lathe", "Press"}) || r.Fired != 1 || r.Unreadable != 1 {
		t.Fatalf("warranty alerts for %v; the pass fired %d and skipped %d unreadable (want Lathe and Press; 1 and 1)", names, r.Fired, r.Unreadable)
	}
}

func sv(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

// Dates written before the index existed (the stream never indexed them)
// are indexed by the backfill, a page of AssetsTable at a time across
// passes, and what of them is due fires once; a date the stream indexed
// keeps its entry as it was; a finished backfill scans nothing more, and a
// second backfill from scratch fires nothing again.
func TestBackfillIndexesDatesWrittenBeforeTheIndex(t *testing.T) {
	// Not parallel: the backfill scans the whole table and runs alone.
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, "asset:create", "maintenance:create")
	// Written with no webhook yet, so nothing fires now.
	soon := createAsset(t, key, map[string]any{"name": "Press", "categoryName": "M", "statusName": "A", "warrantyExpiresAt": isoIn(10 * day)})["assetId"].(string)
	later := createAsset(t, key, map[string]any{"name": "Lathe", "categoryName": "M", "statusName": "A", "warrantyExpiresAt": isoIn(90 * day)})["assetId"].(string)
	kept := createAsset(t, key, map[string]any{"name": "Drill", "categoryName": "M", "statusName": "A", "warrantyExpiresAt": isoIn(200 * day)})["assetId"].(string)
	late := call(t, "POST", "/api/integrations/assets/maintenance", key, map[string]any{"assetId": soon, "title": "Overhaul", "dueAt": isoIn(-2 * day)})
	expect(t, late, 201, "")
	settled(t, tid)

	index := &alert.Index{Shards: alert.IndexShards}
	entryKey := func(k keyschema.Key) map[string]types.AttributeValue {
		t.Helper()
		out, err := stack.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(stack.AssetsTable), Key: k.Attrs(), ConsistentRead: aws.Bool(true)})
		if err != nil || out.Item == nil {
			t.Fatalf("item %v: %v", k, err)
		}
		es := alert.Entries(asset.DatesOf(out.Item))
		if len(es) != 1 {
			t.Fatalf("item %v has %d watched dates", k, len(es))
		}
		item, err := index.Item(es[0])
		if err != nil {
			t.Fatal(err)
		}
		return map[string]types.AttributeValue{"PK": item["PK"], "SK": item["SK"]}
	}
	entry := func(k map[string]types.AttributeValue) map[string]types.AttributeValue {
		t.Helper()
		out, err := stack.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(stack.IntegrationsTable), Key: k, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	// As if alerts were deployed after these were written: their entries go.
	unindexed := []map[string]types.AttributeValue{
		entryKey(keyschema.Asset(tid, soon)), entryKey(keyschema.Asset(tid, later)),
		entryKey(keyschema.Maintenance(tid, soon, late.json(t)["maintenanceId"].(string))),
	}
	for _, k := range unindexed {
		if _, err := stack.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(stack.IntegrationsTable), Key: k}); err != nil {
			t.Fatal(err)
		}
	}
	keptKey := entryKey(keyschema.Asset(tid, kept))
	keptBefore := entry(keptKey)["indexedAt"]
	rv := newReceiver(t, nil)
	createWebhook(t, tid, rv.URL, alert.Events...)

	backfill := func(state string) (steps int) {
		t.Helper()
		b := *stack.Alerts.Backfill
		b.State, b.PageSize = keyschema.Key{PK: keyschema.AlertBackfill().PK, SK: "TEST#" + state}, 2
		for {
			// No time budget: one page a step, as a pass short of time makes.
			r, err := b.Step(ctx, time.Now(), 0)
			if err != nil {
				t.Fatalf("backfill step %d: %v", steps, err)
			}
			steps++
			if r.Done {
				if again, err := b.Step(ctx, time.Now(), 0); err != nil || !again.Done || again.Scanned != 0 {
					t.Fatalf("a step after the end: %+v, %v (want done, nothing scanned)", again, err)
				}
				return steps
			}
		}
	}
	if steps := backfill(t.Name()); steps < 2 {
		t.Fatalf("the backfill took %d step(s) of 2 items: its cursor was never resumed", steps)
	}
	settled(t, tid)
	want := map[string]int{"warranty.expiring": 1, "maintenance.overdue": 1}
	if got := counts(alertsReceived(t, rv)); !maps.Equal(got, want) {
		t.Fatalf("after the backfill: %v, want %v", got, want)
	}
	for _, k := range unindexed {
		if entry(k) == nil {
			t.Errorf("entry %v not restored", k["SK"])
		}
	}
	if after := entry(keptKey)["indexedAt"]; !reflect.DeepEqual(after, keptBefore) {
		t.Errorf("an entry the stream made was rewritten: indexedAt %v, was %v", after, keptBefore)
	}
	backfill(t.Name() + "-again")
	settled(t, tid)
	if got := counts(alertsReceived(t, rv)); !maps.Equal(got, want) {
		t.Fatalf("after a second backfill: %v, want %v", got, want)
	}
}

// Maintenance records through the integration API: a due date moved inside
// the lead time re-arms due_soon at once; recording performedAt completes the
// record and its overdue never fires; clearing it schedules the record again;
// the permission, an unknown record, a future performedAt and another
// tenant's record are refused, and nothing is written by a refusal.
func TestMaintenanceUpdatesThroughTheAPI(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, "asset:create", "maintenance:create", "maintenance:update")
	rv := newReceiver(t, nil)
	createWebhook(t, tid, rv.URL, "maintenance.due_soon", "maintenance.overdue")
	assetID := createAsset(t, key, map[string]any{"name": "Forklift", "categoryName": "M", "statusName": "A", "externalId": "ERP-F1"})["assetId"].(string)
	r := call(t, "POST", "/api/integrations/assets/maintenance", key, map[string]any{"assetId": assetID, "title": "Brake check", "dueAt": isoIn(60 * day)})
	expect(t, r, 201, "")
	mntID := r.json(t)["maintenanceId"].(string)
	update := func(body map[string]any) response {
		t.Helper()
		body["maintenanceId"] = mntID
		if _, ok := body["assetId"]; !ok {
			body["externalId"] = "ERP-F1"
		}
		return call(t, "POST", "/api/integrations/assets/maintenance/update", key, body)
	}

	moved := update(map[string]any{"dueAt": isoIn(3 * day), "title": "Brake check (moved)"})
	expect(t, moved, 200, "")
	if m := moved.json(t); m["title"] != "Brake check (moved)" || m["status"] != "scheduled" || m["maintenanceId"] != mntID {
		t.Fatalf("moved: %v", m)
	}
	settled(t, tid)
	if got := alertsReceived(t, rv)["maintenance.due_soon"]; len(got) != 1 || got[0]["maintenance"].(map[string]any)["title"] != "Brake check (moved)" {
		t.Fatalf("due_soon after the move: %v", got)
	}

	done := update(map[string]any{"performedAt": isoIn(-time.Hour)})
	expect(t, done, 200, "")
	if m := done.json(t); m["status"] != "completed" || m["performedAt"] == nil {
		t.Fatalf("performed: %v", m)
	}
	// The performed record leaves the due-date index: no pass will meet its
	// overdue. (A pass as of a later time would fire other tests' alerts.)
	entry := alert.Entry{TenantID: tid, AssetID: assetID, Kind: alert.MaintenanceKind, ItemPK: keyschema.AssetPK(tid, assetID),
		ItemSK: keyschema.MaintenancePrefix + mntID, DueAt: moved.json(t)["dueAt"].(string)}
	indexed := func() bool {
		t.Helper()
		item, err := (&alert.Index{Shards: alert.IndexShards}).Item(entry)
		if err != nil {
			t.Fatal(err)
		}
		out, err := stack.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(stack.IntegrationsTable),
			Key: map[string]types.AttributeValue{"PK": item["PK"], "SK": item["SK"]}, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item != nil
	}
	settled(t, tid)
	if indexed() {
		t.Fatal("the performed record's due date is still indexed")
	}
	again := update(map[string]any{"performedAt": nil})
	expect(t, again, 200, "")
	if m := again.json(t); m["status"] != "scheduled" || m["performedAt"] != nil {
		t.Fatalf("performedAt cleared: %v", m)
	}
	settled(t, tid)
	if !indexed() {
		t.Fatal("the record scheduled again is not indexed")
	}
	if n := len(alertsReceived(t, rv)["maintenance.due_soon"]); n != 1 {
		t.Fatalf("due_soon after scheduling again: %d, want the one already sent", n)
	}

	for _, c := range []struct {
		key  string
		body map[string]any
		code int
		err  string
	}{
		{key, map[string]any{"assetId": assetID, "maintenanceId": "mnt_missing", "title": "x"}, 404, "NOT_FOUND"},
		{key, map[string]any{"assetId": assetID, "maintenanceId": mntID}, 400, "VALIDATION_ERROR"},
		{key, map[string]any{"assetId": assetID, "maintenanceId": mntID, "performedAt": isoIn(2 * day)}, 400, "VALIDATION_ERROR"},
		{key, map[string]any{"assetId": assetID, "maintenanceId": mntID, "dueAt": "2026-02-30"}, 400, "VALIDATION_ERROR"},
		{key, map[string]any{"assetId": assetID, "maintenanceId": mntID, "dueAt": 20261201}, 400, "VALIDATION_ERROR"},
		{key, map[string]any{"assetId": assetID, "maintenanceId": "MAINT#x", "title": "x"}, 400, "VALIDATION_ERROR"},
		{mustKey(t, tid, "maintenance:create"), map[string]any{"assetId": assetID, "maintenanceId": mntID, "title": "x"}, 403, "INSUFFICIENT_PERMISSIONS"},
		{mustKey(t, newTenant(t, tenant.Enterprise), "maintenance:update"), map[string]any{"assetId": assetID, "maintenanceId": mntID, "title": "x"}, 404, "NOT_FOUND"},
	} {
		expect(t, call(t, "POST", "/api/integrations/assets/maintenance/update", c.key, c.body), c.code, c.err)
	}
	// The caller's own id (a work order number) names the record for updates.
	own := map[string]any{"assetId": assetID, "maintenanceId": "WO-2026-118", "title": "Tyres", "dueAt": isoIn(90 * day)}
	if r := call(t, "POST", "/api/integrations/assets/maintenance", key, own); r.Status != 201 || r.json(t)["maintenanceId"] != "WO-2026-118" {
		t.Fatalf("a record with the caller's own id: %d %s", r.Status, r.Body)
	}
	expect(t, call(t, "POST", "/api/integrations/assets/maintenance", key, own), 409, "CONFLICT")
	expect(t, call(t, "POST", "/api/integrations/assets/maintenance/update", key, map[string]any{"assetId": assetID, "maintenanceId": "WO-2026-118", "title": "Winter tyres"}), 200, "")
	own["maintenanceId"] = "WO#1"
	expect(t, call(t, "POST", "/api/integrations/assets/maintenance", key, own), 400, "VALIDATION_ERROR")
	m, found, err := (&asset.Store{DB: stack.DB, Table: stack.AssetsTable}).GetMaintenance(context.Background(), tid, assetID, mntID)
	if err != nil || !found || m.Title != "Brake check (moved)" || m.PerformedAt != nil || m.Status != "scheduled" {
		t.Fatalf("after the refusals: %+v %v %v", m, found, err)
	}
}

func mustKey(t *testing.T, tenantID string, perms ...string) string {
	t.Helper()
	k, _ := newKey(t, tenantID, perms...)
	return k
}

// settleHook runs before before the first catch-up is settled: a change of
// the settings made while a pass runs.
type settleHook struct {
	dynamo.API
	before func()
}

func (h settleHook) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if strings.HasPrefix(aws.ToString(in.UpdateExpression), "REMOVE catchUps") {
		h.before()
	}
	return h.API.UpdateItem(ctx, in, o...)
}

// A pass as of another time (go run ./infra/local alerts --at) keeps its
// own watermark and only moves forward: one as of a time an earlier one
// covered is refused, saying the time to ask for; so is one outside 30 days
// ago to 10 years ahead. (Not parallel: a pass as of now fires what falls
// due now, for every tenant.)
func TestSimulatedAlertPassesOnlyMoveForward(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	r, err := stack.SimulatedAlerts(ctx, now.Add(time.Minute), now)
	if err != nil {
		t.Fatal(err)
	}
	if !r.To.After(now.Add(-alert.PassLag)) || r.To.After(now.Add(time.Minute)) {
		t.Fatalf("a pass as of a minute ahead looked from %v to %v", r.From, r.To)
	}
	var refused *devstack.SimulatedAlertsRefused
	_, err = stack.SimulatedAlerts(ctx, now.Add(30*time.Second), now)
	if !errors.As(err, &refused) || !strings.Contains(refused.Reason, "ask for a time after") {
		t.Fatalf("a pass as of a time already covered: %v", err)
	}
	for _, at := range []time.Time{now.AddDate(0, 0, -31), now.AddDate(10, 1, 0)} {
		if _, err := stack.SimulatedAlerts(ctx, at, now); !errors.As(err, &refused) {
			t.Fatalf("a pass as of %v: %v", at, err)
		}
	}
}
