package activity

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/apilog"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/dynamo/dynamotest"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/retention"
	"github.com/uniasset/integrations/shared/systemlog"
	"github.com/uniasset/integrations/shared/webhook"
)

var t0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

// seed writes, for tenant t1, five API calls (two keys), four deliveries (two
// webhooks) and two system entries, interleaved in time; and one row of each
// kind for t2.
func seed(t *testing.T) *Reader {
	t.Helper()
	ctx := context.Background()
	db := dynamotest.New("t")
	r := &Reader{DB: db, Table: "t", APILogShards: 3, DeliveryShards: 2}
	calls := &apilog.Writer{DB: db, Table: "t", Shards: r.APILogShards}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, tid := range []string{"t1", "t2"} {
		for i, s := range []int{0, 2, 4, 6, 8} {
			key := []string{"key_a", "key_b"}[i%2]
			if err := calls.Write(ctx, apilog.Entry{TenantID: tid, Method: "POST", Endpoint: "/api/integrations/assets/create", Status: 201, APIKeyID: key, RequestBody: `{"password":"[REDACTED]"}`}, at(s)); err != nil {
				t.Fatal(err)
			}
		}
		for i, s := range []int{1, 3, 5, 7} {
			now := at(s)
			q := &delivery.Enqueuer{Store: &delivery.Store{DB: db, Table: "t", Shards: r.DeliveryShards}, Now: func() time.Time { return now }}
			w := webhook.Webhook{TenantID: tid, ID: []string{"wh_a", "wh_b"}[i%2], Name: "hook"}
			k, _, err := q.Prepare(ctx, w, delivery.Event{SourceID: tid + "-src" + string(rune('0'+i)), Name: "asset.created", TenantID: tid, Time: isotime.Format(now), Data: map[string]any{}})
			if err != nil {
				t.Fatal(err)
			}
			// As its first outcome leaves it (Store.Finish, proven against
			// moto; the fake has no conditional updates): delivered, and in
			// its webhook's partition of the index.
			key := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: k.PK}, "SK": &types.AttributeValueMemberS{Value: k.SK}}
			out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t"), Key: key})
			if err != nil || out.Item == nil {
				t.Fatalf("the prepared delivery: %v", err)
			}
			shard, _ := keyschema.DeliveryShardOf(tid, k.PK)
			out.Item[keyschema.ByResourcePK] = &types.AttributeValueMemberS{Value: keyschema.WebhookDeliveriesPK(tid, w.ID, shard)}
			out.Item["status"] = &types.AttributeValueMemberS{Value: delivery.Delivered}
			if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t"), Item: out.Item}); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range []int{9, 10} {
			item, err := systemlog.Item(systemlog.Entry{TenantID: tid, Event: systemlog.WebhookFailing, ResourceType: "webhook", ResourceID: "wh_a", Status: "failing"}, at(s), retention.Policy{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t"), Item: item}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return r
}

// walk follows the cursor to the end and returns every row in page order.
func walk(t *testing.T, r *Reader, q Query) (rows []Row, pages int) {
	t.Helper()
	for {
		p, err := r.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if !slices.IsSortedFunc(p.Rows, func(a, b Row) int { return strings.Compare(b.Timestamp, a.Timestamp) }) {
			t.Fatalf("page %d not newest first: %+v", pages, p.Rows)
		}
		rows = append(rows, p.Rows...)
		if p.NextCursor == nil {
			return rows, pages
		}
		if pages > 20 {
			t.Fatal("the cursor never ends")
		}
		q.Cursor = *p.NextCursor
	}
}

func count(rows []Row) map[string]int {
	n := map[string]int{}
	for _, r := range rows {
		n[r.Source]++
	}
	return n
}

func TestPagesMergeTheThreeLogs(t *testing.T) {
	r := seed(t)
	p, err := r.List(context.Background(), Query{TenantID: "t1", Limit: 100})
	if err != nil || p.NextCursor != nil {
		t.Fatalf("%v, cursor %v", err, p.NextCursor)
	}
	var sources []string
	for _, row := range p.Rows {
		sources = append(sources, row.Source[:1])
	}
	// Newest first, interleaved by time: system 10, 9; API 8; delivery 7; ...
	if got := strings.Join(sources, ""); got != "SSAWAWAWAWA" {
		t.Fatalf("order %s: %+v", got, p.Rows)
	}
	// Two rows of each source a page: every row once, in four pages (the
	// last one tells a source with exactly its limit left that it is done).
	rows, pages := walk(t, r, Query{TenantID: "t1", Limit: 2})
	ids := map[string]bool{}
	for _, row := range rows {
		if ids[row.ID] {
			t.Fatalf("row %s twice", row.ID)
		}
		ids[row.ID] = true
	}
	if len(rows) != 11 || pages < 3 {
		t.Fatalf("%d rows in %d pages", len(rows), pages)
	}
}

func TestFilters(t *testing.T) {
	r := seed(t)
	cases := []struct {
		q    Query
		want map[string]int
	}{
		{Query{Source: "api"}, map[string]int{SourceAPI: 5}},
		{Query{Source: "webhook"}, map[string]int{SourceWebhook: 4}},
		{Query{Source: "system"}, map[string]int{SourceSystem: 2}},
		{Query{APIKeyID: "key_a"}, map[string]int{SourceAPI: 3}},
		{Query{WebhookID: "wh_a"}, map[string]int{SourceWebhook: 2, SourceSystem: 2}},
		{Query{WebhookID: "wh_b"}, map[string]int{SourceWebhook: 2}},
		{Query{WebhookID: "wh_b", Source: "webhook"}, map[string]int{SourceWebhook: 2}},
	}
	for _, c := range cases {
		c.q.TenantID, c.q.Limit = "t1", 2
		rows, _ := walk(t, r, c.q)
		if got := count(rows); !maps.Equal(got, c.want) {
			t.Errorf("%+v: %v, want %v", c.q, got, c.want)
		}
		for _, row := range rows {
			if (c.q.WebhookID != "" && row.ResourceID != c.q.WebhookID) || (c.q.APIKeyID != "" && row.ResourceID != c.q.APIKeyID) {
				t.Errorf("%+v let through %+v", c.q, row)
			}
		}
	}
}

func TestBadQueriesName(t *testing.T) {
	r := seed(t)
	for field, q := range map[string]Query{
		"source":    {Source: "email"},
		"cursor":    {Cursor: "not-a-cursor!"},
		"webhookId": {WebhookID: "wh_a", Source: "api"},
		"apiKeyId":  {APIKeyID: "key#1"},
	} {
		q.TenantID = "t1"
		_, err := r.List(context.Background(), q)
		e, ok := apierror.From(err)
		if !ok || e.Code != apierror.Validation || len(e.Fields) != 1 || e.Fields[0].Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
}

// Every row expands by its id; no id reaches another tenant's rows.
func TestGetExpandsOwnRowsOnly(t *testing.T) {
	r := seed(t)
	ctx := context.Background()
	p, err := r.List(ctx, Query{TenantID: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range p.Rows {
		d, err := r.Get(ctx, "t1", row.ID)
		if err != nil || d.Row != row {
			t.Fatalf("%s: %+v %v", row.ID, d.Row, err)
		}
		switch row.Source {
		case SourceAPI:
			if body, _ := d.Request["body"].(map[string]any); body["password"] != "[REDACTED]" {
				t.Errorf("%s: request body %v", row.ID, d.Request["body"])
			}
		case SourceWebhook:
			if d.Request["headers"].(map[string]string)["webhook-signature"] != "[REDACTED]" {
				t.Errorf("%s: signature shown", row.ID)
			}
		}
		if _, err := r.Get(ctx, "t2", row.ID); !notFound(err) {
			t.Errorf("t2 read t1's %s: %v", row.ID, err)
		}
	}
	for _, id := range []string{"", "api-9-01h", "api-x-1", "sys-a#b", "whk-!!", "whk-" + strings.Repeat("A", 300), "other-1"} {
		if _, err := r.Get(ctx, "t1", id); !notFound(err) {
			t.Errorf("%q: %v", id, err)
		}
	}
}

func notFound(err error) bool {
	e, ok := apierror.From(err)
	return ok && e.Code == apierror.NotFound
}
