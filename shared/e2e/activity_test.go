package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/activity"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/tenant"
	"github.com/uniasset/integrations/shared/webhook"
)

func TestActivityLog(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	rv := newReceiver(t, nil)
	whID, _ := createWebhook(t, tid, rv.URL, "asset.created")
	otherHook := newReceiver(t, nil)
	otherWhID, _ := createWebhook(t, tid, otherHook.URL, "asset.created")
	erp, erpID := newKey(t, tid, allPermissions...)
	iot, iotID := newKey(t, tid, allPermissions...)
	createAsset(t, erp, nil)
	createAsset(t, erp, nil)
	createAsset(t, iot, nil)
	expect(t, call(t, "POST", "/api/integrations/assets/create", iot, `{"name":"x","password":"hunter2"}`), 400, "VALIDATION_ERROR")
	waitFor(t, 15*time.Second, "six deliveries", func() bool { return len(rv.requests()) == 3 && len(otherHook.requests()) == 3 })
	waitFor(t, 10*time.Second, "delivery records final", func() bool {
		for _, d := range allDeliveries(t, tid) {
			if d.Status != "delivered" {
				return false
			}
		}
		return true
	})

	list := func(bearer, query string) map[string]any {
		t.Helper()
		r := call(t, "GET", "/api/integrations/activity"+query, bearer, nil)
		expect(t, r, 200, "")
		return r.json(t)
	}
	rows := func(page map[string]any) []map[string]any {
		var out []map[string]any
		for _, r := range page["rows"].([]any) {
			out = append(out, r.(map[string]any))
		}
		return out
	}
	all := rows(list(owner, ""))
	if len(all) != 4+6 {
		t.Fatalf("want 4 API calls and 6 deliveries, got %d rows", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i]["timestamp"].(string) > all[i-1]["timestamp"].(string) {
			t.Fatal("rows are not newest first")
		}
	}
	var sawAPI, sawWeb bool
	for _, r := range all {
		switch r["source"] {
		case "API":
			sawAPI = true
			if r["details"] != "127.0.0.1" || !strings.HasPrefix(r["event"].(string), "POST /api/integrations/assets/") || r["resource"] == "" {
				t.Fatalf("API row: %v", r)
			}
		case "Webhook":
			sawWeb = true
			if r["event"] != "asset.created" || r["status"] != "delivered" || r["resource"] != "ERP sink" || r["details"] != "1 attempt" {
				t.Fatalf("webhook row: %v", r)
			}
		default:
			t.Fatalf("row source %v", r["source"])
		}
	}
	if !sawAPI || !sawWeb {
		t.Fatal("both sources must appear")
	}

	// Filters.
	for query, want := range map[string]int{
		"?source=api": 4, "?source=webhook": 6, "?apiKeyId=" + erpID: 2, "?apiKeyId=" + iotID: 2,
		"?webhookId=" + whID: 3, "?webhookId=" + otherWhID: 3,
	} {
		got := rows(list(owner, query))
		if len(got) != want {
			t.Errorf("%s: %d rows, want %d", query, len(got), want)
		}
		for _, r := range got {
			if strings.Contains(query, "Id=") && !strings.HasSuffix(query, r["resourceId"].(string)) {
				t.Errorf("%s returned a row of %v", query, r["resourceId"])
			}
		}
	}

	// Pages of 2 walk everything exactly once.
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		q := "?limit=2"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		page := list(owner, q)
		for _, r := range rows(page) {
			if seen[r["id"].(string)] {
				t.Fatalf("row %v on two pages", r["id"])
			}
			seen[r["id"].(string)] = true
		}
		next, _ := page["nextCursor"].(string)
		if next == "" {
			break
		}
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		cursor = next
	}
	if len(seen) != len(all) {
		t.Fatalf("paging reached %d rows, want %d", len(seen), len(all))
	}

	// Detail: the full redacted request, and a delivery's attempts.
	for _, r := range all {
		d := call(t, "GET", "/api/integrations/activity/"+r["id"].(string), owner, nil)
		expect(t, d, 200, "")
		body := string(d.Body)
		if strings.Contains(body, erp) || strings.Contains(body, iot) || strings.Contains(body, "hunter2") {
			t.Fatalf("detail leaks a secret: %s", body)
		}
		m := d.json(t)
		if r["source"] == "API" {
			if m["request"].(map[string]any)["headers"].(map[string]any)["authorization"] != "[REDACTED]" {
				t.Fatalf("API detail headers: %s", body)
			}
		} else if len(m["attempts"].([]any)) != 1 || m["request"].(map[string]any)["body"] == nil {
			t.Fatalf("webhook detail: %s", body)
		}
	}

	// Who may read it.
	for _, role := range []string{"Admin", "Manager"} {
		list(token(t, tid, role), "")
	}
	for _, role := range []string{"Member", "Viewer"} {
		expect(t, call(t, "GET", "/api/integrations/activity", token(t, tid, role), nil), 403, "FORBIDDEN")
	}
	starter := newTenant(t, tenant.Starter)
	expect(t, call(t, "GET", "/api/integrations/activity", token(t, starter, "Owner"), nil), 403, "PLAN_UPGRADE_REQUIRED")
	growth := newTenant(t, tenant.Growth)
	if n := len(rows(list(token(t, growth, "Manager"), ""))); n != 0 {
		t.Fatalf("an empty tenant shows %d rows", n)
	}
	// Another tenant's rows are not found; bad parameters are 400.
	stranger := token(t, newTenant(t, tenant.Enterprise), "Owner")
	expect(t, call(t, "GET", "/api/integrations/activity/"+all[0]["id"].(string), stranger, nil), 404, "NOT_FOUND")
	if n := len(rows(list(stranger, "?webhookId="+whID))); n != 0 {
		t.Fatal("another tenant's webhook id returned rows")
	}
	for _, bad := range []string{"?source=ftp", "?limit=0", "?limit=101", "?cursor=@@", "?webhookId=a&apiKeyId=b", "?source=api&webhookId=" + whID, "?tenantId=x"} {
		expect(t, call(t, "GET", "/api/integrations/activity"+bad, owner, nil), 400, "VALIDATION_ERROR")
	}
	for _, bad := range []string{"nope", "api-99-x", "whk-!!!", "whk-" + strings.Repeat("QQ", 150), "api-0-" + strings.Repeat("z", 70)} {
		r := call(t, "GET", "/api/integrations/activity/"+bad, owner, nil)
		if r.Status != http.StatusNotFound {
			t.Errorf("%s: %d", bad, r.Status)
		}
	}
}

func TestOverview(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	_, id := newKey(t, tid)
	newKey(t, tid)
	expect(t, call(t, "POST", "/api/integrations/api-keys/"+id+"/revoke", owner, nil), 200, "")
	whID, _ := createWebhook(t, tid, "http://127.0.0.1:1/x", "asset.created")
	createWebhook(t, tid, "http://127.0.0.1:1/y", "asset.created")
	expect(t, call(t, "POST", "/api/integrations/webhooks/"+whID+"/pause", owner, nil), 200, "")

	r := call(t, "GET", "/api/integrations/overview", owner, nil)
	expect(t, r, 200, "")
	m := r.json(t)
	keys, hooks := m["apiKeys"].(map[string]any), m["webhooks"].(map[string]any)
	if keys["active"] != 1.0 || keys["revoked"] != 1.0 || hooks["total"] != 2.0 || hooks["paused"] != 1.0 || hooks["new"] != 1.0 {
		t.Fatalf("overview counts: %s", r.Body)
	}
	if len(m["events"].([]any)) != len(webhook.Events) || m["entra"].(map[string]any)["status"] != "not_connected" || m["features"].(map[string]any)["webhooks"] != true {
		t.Fatalf("overview: %s", r.Body)
	}
	expect(t, call(t, "GET", "/api/integrations/overview", token(t, tid, "Admin"), nil), 403, "FORBIDDEN")
	g := call(t, "GET", "/api/integrations/overview", token(t, newTenant(t, tenant.Growth), "Owner"), nil)
	expect(t, g, 200, "")
	if f := g.json(t)["features"].(map[string]any); f["integrationApi"] != false || f["apiAccess"] != true {
		t.Fatalf("growth features: %v", f)
	}
}

// queryCounter counts the Query calls a reader makes against moto.
type queryCounter struct {
	dynamo.API
	n atomic.Int64
}

func (c *queryCounter) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.n.Add(1)
	return c.API.Query(ctx, in, o...)
}

// TestActivityPageQueries: a page costs one Query per shard of each source
// read (the system log has one), the same for an empty log and a growing one (BENCHMARKS.md has the
// figures at 100,000 items per shard).
func TestActivityPageQueries(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	counter := &queryCounter{API: stack.DB}
	cfg := stack.Config.AdminAPI
	reader := &activity.Reader{DB: counter, Table: cfg.IntegrationsTable, APILogShards: cfg.APILogShards, DeliveryShards: cfg.DeliveryShards}
	cost := func(q activity.Query) (int64, int) {
		t.Helper()
		counter.n.Store(0)
		q.TenantID = tid
		p, err := reader.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		return counter.n.Load(), len(p.Rows)
	}
	both := int64(cfg.APILogShards + cfg.DeliveryShards + 1) // the system log is one partition
	if n, rows := cost(activity.Query{}); n != both || rows != 0 {
		t.Fatalf("empty log: %d queries, %d rows; want %d queries", n, rows, both)
	}
	key, keyID := newKey(t, tid, allPermissions...)
	for range 5 {
		createAsset(t, key, nil)
	}
	if n, rows := cost(activity.Query{}); n != both || rows != 5 {
		t.Fatalf("5 calls: %d queries, %d rows; want %d queries, 5 rows", n, rows, both)
	}
	if n, rows := cost(activity.Query{Limit: 2}); n != both || rows != 2 {
		t.Fatalf("limit 2: %d queries, %d rows", n, rows)
	}
	if n, rows := cost(activity.Query{APIKeyID: keyID}); n != int64(cfg.APILogShards) || rows != 5 {
		t.Fatalf("apiKeyId filter: %d queries, %d rows; want %d queries (index only)", n, rows, cfg.APILogShards)
	}
	if n, _ := cost(activity.Query{Source: "webhook"}); n != int64(cfg.DeliveryShards) {
		t.Fatalf("source=webhook: %d queries; want %d", n, cfg.DeliveryShards)
	}
	if n, _ := cost(activity.Query{Source: "system"}); n != 1 {
		t.Fatalf("source=system: %d queries; want 1", n)
	}
}

// TestActivitySystemRows: a webhook that fails twice and then succeeds leaves
// exactly one webhook.failing and one webhook.recovered System row, found by
// source=system and by the webhook filter, expandable by id in its tenant only.
func TestActivitySystemRows(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	rv := newReceiver(t, func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	whID, _ := createWebhook(t, tid, rv.URL, "asset.created")
	key, _ := newKey(t, tid, allPermissions...)
	createAsset(t, key, nil)
	waitFor(t, 20*time.Second, "the third attempt", func() bool { return len(rv.requests()) == 3 })

	rowsOf := func(query string) []map[string]any {
		t.Helper()
		r := call(t, "GET", "/api/integrations/activity"+query, owner, nil)
		expect(t, r, 200, "")
		var out []map[string]any
		for _, row := range r.json(t)["rows"].([]any) {
			out = append(out, row.(map[string]any))
		}
		return out
	}
	var sys []map[string]any
	waitFor(t, 10*time.Second, "two system rows", func() bool { sys = rowsOf("?source=system"); return len(sys) >= 2 })
	if len(sys) != 2 {
		t.Fatalf("want one failing and one recovered row, got %v", sys)
	}
	recovered, failing := sys[0], sys[1]
	if failing["source"] != "System" || failing["event"] != "webhook.failing" || failing["status"] != "failing" ||
		failing["resourceId"] != whID || failing["resource"] != "ERP sink" || !strings.Contains(failing["details"].(string), "HTTP 500") {
		t.Fatalf("failing row: %v", failing)
	}
	if recovered["event"] != "webhook.recovered" || recovered["status"] != "healthy" || !strings.Contains(recovered["details"].(string), "attempt 3") {
		t.Fatalf("recovered row: %v", recovered)
	}
	// The webhook's own view: its delivery and the two system rows.
	byHook := rowsOf("?webhookId=" + whID)
	if len(byHook) != 3 || byHook[0]["source"] == "API" {
		t.Fatalf("webhookId filter: %v", byHook)
	}
	if all := rowsOf(""); len(all) != 1+1+2 {
		t.Fatalf("unfiltered: want 1 call, 1 delivery, 2 system rows, got %d", len(all))
	}
	expect(t, call(t, "GET", "/api/integrations/activity?source=system&apiKeyId=key_x", owner, nil), 400, "VALIDATION_ERROR")

	id := failing["id"].(string)
	d := call(t, "GET", "/api/integrations/activity/"+url.PathEscape(id), owner, nil)
	expect(t, d, 200, "")
	if m := d.json(t); m["event"] != "webhook.failing" || m["data"].(map[string]any)["resourceType"] != "webhook" {
		t.Fatalf("detail: %v", m)
	}
	other := newTenant(t, tenant.Enterprise)
	expect(t, call(t, "GET", "/api/integrations/activity/"+url.PathEscape(id), token(t, other, "Owner"), nil), 404, "NOT_FOUND")
}

// TestWebhookHealthEntries drives webhook.Store.RecordOutcome against moto: one
// System entry per change of health, none for repeats or older attempts, the
// right one from a stale view, and one when two dispatchers race from one view.
func TestWebhookHealthEntries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	whID, _ := createWebhook(t, tid, "https://hooks.example.com/x", "asset.created")
	store := &webhook.Store{DB: stack.DB, Table: stack.IntegrationsTable}
	current := func() webhook.Webhook {
		t.Helper()
		out, err := stack.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &stack.IntegrationsTable, ConsistentRead: aws.Bool(true),
			Key: keyschema.Webhook(tid, whID).Attrs()})
		if err != nil || out.Item == nil {
			t.Fatalf("webhook item: %v", err)
		}
		var w webhook.Webhook
		if err := attributevalue.UnmarshalMap(out.Item, &w); err != nil {
			t.Fatal(err)
		}
		return w
	}
	events := func() []string {
		t.Helper()
		out, err := stack.DB.Query(ctx, &dynamodb.QueryInput{TableName: &stack.IntegrationsTable, ConsistentRead: aws.Bool(true),
			KeyConditionExpression:    aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: keyschema.SystemPK(tid)}}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range out.Items {
			got = append(got, it["event"].(*types.AttributeValueMemberS).Value)
		}
		return got
	}
	record := func(w webhook.Webhook, outcome string, at time.Time) {
		t.Helper()
		if err := store.RecordOutcome(ctx, w, outcome, at, "detail"); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now()
	record(current(), webhook.OutcomeDelivered, t0) // new -> healthy: no entry
	record(current(), webhook.OutcomeFailed, t0.Add(time.Minute))
	record(current(), webhook.OutcomeFailed, t0.Add(3*time.Minute)) // still failing (a refresh)
	if got := strings.Join(events(), ","); got != "webhook.failing" {
		t.Fatalf("after healthy, failing, failing: %s", got)
	}
	record(current(), webhook.OutcomeDelivered, t0.Add(2*time.Minute)) // older than the stored attempt
	if w := current(); w.LastDeliveryStatus != webhook.OutcomeFailed || len(events()) != 1 {
		t.Fatalf("an older attempt changed the health: %s, %v", w.LastDeliveryStatus, events())
	}
	stale := current()
	record(current(), webhook.OutcomeDelivered, t0.Add(4*time.Minute))
	// stale still says failed; its failure at t0+5m must be seen as a change.
	record(stale, webhook.OutcomeFailed, t0.Add(5*time.Minute))
	if got := strings.Join(events(), ","); got != "webhook.failing,webhook.recovered,webhook.failing" {
		t.Fatalf("after recovery and a failure seen from a stale view: %s", got)
	}
	healthy := current()
	record(healthy, webhook.OutcomeDelivered, t0.Add(6*time.Minute))
	// Two dispatchers that read the webhook before either wrote: the second
	// loses the condition, re-reads, and only refreshes. (They run one after
	// the other: moto cancels a transaction by restoring a snapshot of the
	// whole table taken when it began, which undoes writes made meanwhile by
	// other requests, so truly concurrent conflicting transactions cannot be
	// judged against it. DynamoDB's transactions are serializable.)
	view := current()
	record(view, webhook.OutcomeFailed, t0.Add(7*time.Minute))
	record(view, webhook.OutcomeFailed, t0.Add(7*time.Minute+time.Millisecond))
	if got := events(); len(got) != 5 || got[4] != "webhook.failing" {
		t.Fatalf("two failures read from one view after a recovery: %v", got)
	}
	if w := current(); w.LastDeliveryAt != isotime.Format(t0.Add(7*time.Minute+time.Millisecond)) {
		t.Fatalf("the later attempt's time was not kept: %s", w.LastDeliveryAt)
	}
}
