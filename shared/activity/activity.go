// Package activity reads the Activity Log: API calls, webhook deliveries and
// system entries of a tenant, merged newest first, with filters, cursors and a
// detail view.
//
// Each page holds up to Limit rows of each source (the spec's "last 100 API
// calls and last 100 webhook deliveries", and as many system entries). The
// cursor keeps one position per source, so paging walks every log back to its
// first record without skipping any. A page costs a fixed number of queries:
// one per shard of each source read, whatever the size of the log.
package activity

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/apilog"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/redact"
	"github.com/uniasset/integrations/shared/shardmark"
	"github.com/uniasset/integrations/shared/systemlog"
)

// Index is the GSI that finds one API key's calls or one webhook's deliveries.
const Index = keyschema.ByResource

// Sources of rows.
const (
	SourceAPI     = "API"
	SourceWebhook = "Webhook"
	SourceSystem  = "System"
)

// Row is one line of the Activity Log (the spec's columns).
type Row struct {
	ID         string `json:"id"`
	Timestamp  string `json:"timestamp"`
	Source     string `json:"source"`
	Event      string `json:"event"`
	Resource   string `json:"resource"`
	ResourceID string `json:"resourceId"`
	Status     string `json:"status"`
	Details    string `json:"details"`
}

// Page is one page of rows and the cursor to the next (nil at the end).
type Page struct {
	Rows       []Row   `json:"rows"`
	NextCursor *string `json:"nextCursor"`
}

// Query selects rows. Source is "", "api", "webhook" or "system"; an apiKeyId
// filter implies source api, a webhookId filter keeps that webhook's
// deliveries and system entries.
type Query struct {
	TenantID  string
	Source    string
	WebhookID string
	APIKeyID  string
	Cursor    string
	Limit     int
}

// Reader reads both logs from IntegrationsTable.
type Reader struct {
	DB             dynamo.API
	Table          string
	APILogShards   int
	DeliveryShards int
	// Marks are the highest shard counts ever written (nil: the settings).
	Marks *shardmark.Store
}

// cursor is one position per source: the sort key of the last row returned,
// and whether the source is exhausted.
type cursor struct {
	API     string `json:"a,omitempty"`
	APIDone bool   `json:"ad,omitempty"`
	Web     string `json:"w,omitempty"`
	WebDone bool   `json:"wd,omitempty"`
	Sys     string `json:"s,omitempty"`
	SysDone bool   `json:"sd,omitempty"`
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func invalid(field, issue string) error {
	return apierror.Invalid(apierror.FieldError{Field: field, Issue: issue})
}

// List returns one page.
func (r *Reader) List(ctx context.Context, q Query) (Page, error) {
	if q.Limit <= 0 || q.Limit > 100 {
		q.Limit = 100
	}
	switch q.Source {
	case "", "api", "webhook", "system":
	default:
		return Page{}, invalid("source", "must be api, webhook or system")
	}
	if q.WebhookID != "" && (!idPattern.MatchString(q.WebhookID) || q.Source == "api" || q.APIKeyID != "") {
		return Page{}, invalid("webhookId", "must be a webhook id, and cannot be combined with source=api or apiKeyId")
	}
	if q.APIKeyID != "" && (!idPattern.MatchString(q.APIKeyID) || (q.Source != "" && q.Source != "api")) {
		return Page{}, invalid("apiKeyId", "must be an API key id, and cannot be combined with source=webhook or source=system")
	}
	var c cursor
	if q.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || json.Unmarshal(raw, &c) != nil {
			return Page{}, invalid("cursor", "is not a cursor this API returned")
		}
	}
	// A webhookId filter keeps the webhook's deliveries and the system entries
	// about it; an apiKeyId filter keeps that key's calls.
	wantAPI := (q.Source == "" || q.Source == "api") && q.WebhookID == "" && !c.APIDone
	wantWeb := (q.Source == "" || q.Source == "webhook") && q.APIKeyID == "" && !c.WebDone
	wantSys := (q.Source == "" || q.Source == "system") && q.APIKeyID == "" && !c.SysDone
	next := cursor{APIDone: !wantAPI, WebDone: !wantWeb, SysDone: !wantSys}

	// The sources are read at once; each read is a fixed number of queries.
	var marks shardmark.Marks
	if wantAPI || wantWeb {
		marks = r.marks(ctx) // one read for both logs
	}
	var apiItems, webItems, sysItems []map[string]types.AttributeValue
	var apiErr, webErr, sysErr error
	var wg sync.WaitGroup
	if wantAPI {
		wg.Go(func() { apiItems, apiErr = dynamo.NewestAcrossShards(ctx, r.DB, r.apiQuery(marks, q, c.API)) })
	}
	if wantWeb {
		wg.Go(func() { webItems, webErr = dynamo.NewestAcrossShards(ctx, r.DB, r.webQuery(marks, q, c.Web)) })
	}
	if wantSys {
		wg.Go(func() { sysItems, sysErr = dynamo.NewestAcrossShards(ctx, r.DB, r.sysQuery(q, c.Sys)) })
	}
	wg.Wait()
	if err := cmp.Or(apiErr, webErr, sysErr); err != nil {
		return Page{}, err
	}
	var rows []Row
	for _, it := range apiItems {
		e, shard, err := apilog.EntryFromItem(it)
		if err != nil {
			return Page{}, err
		}
		rows = append(rows, apiRow(shard, e))
		next.API = dynamo.SK(it)
	}
	for _, it := range webItems {
		d, err := delivery.RecordFromItem(it)
		if err != nil {
			return Page{}, err
		}
		rows = append(rows, webRow(d))
		next.Web = d.SK
	}
	for _, it := range sysItems {
		e, err := systemlog.EntryFromItem(it)
		if err != nil {
			return Page{}, err
		}
		rows = append(rows, sysRow(e))
		next.Sys = e.ID
	}
	next.APIDone = next.APIDone || len(apiItems) < q.Limit
	next.WebDone = next.WebDone || len(webItems) < q.Limit
	next.SysDone = next.SysDone || len(sysItems) < q.Limit
	sortNewestFirst(rows)
	p := Page{Rows: rows}
	if p.Rows == nil {
		p.Rows = []Row{}
	}
	if !next.APIDone || !next.WebDone || !next.SysDone {
		raw, _ := json.Marshal(next)
		s := base64.RawURLEncoding.EncodeToString(raw)
		p.NextCursor = &s
	}
	return p, nil
}

// marks are the shard marks a page reads up to (none: the settings): a
// deploy may have lowered a setting, and older rows are in the others.
func (r *Reader) marks(ctx context.Context) shardmark.Marks {
	if r.Marks == nil {
		return shardmark.Marks{}
	}
	return r.Marks.Read(ctx)
}

func (r *Reader) apiQuery(marks shardmark.Marks, q Query, before string) dynamo.ShardQuery {
	shards := marks.Shards(shardmark.APILog, r.APILogShards)
	if q.APIKeyID != "" {
		return r.sharded(shards, Index, before, q.Limit, func(i int) string { return keyschema.APIKeyCallsPK(q.TenantID, q.APIKeyID, i) })
	}
	return r.sharded(shards, "", before, q.Limit, func(i int) string { return keyschema.APILogPK(q.TenantID, i) })
}

func (r *Reader) webQuery(marks shardmark.Marks, q Query, before string) dynamo.ShardQuery {
	shards := marks.Shards(shardmark.Deliveries, r.DeliveryShards)
	if q.WebhookID != "" {
		return r.sharded(shards, Index, before, q.Limit, func(i int) string { return keyschema.WebhookDeliveriesPK(q.TenantID, q.WebhookID, i) })
	}
	return r.sharded(shards, "", before, q.Limit, func(i int) string { return keyschema.DeliveryPK(q.TenantID, i) })
}

// sharded reads the newest rows of a log written across shards, on the table
// or (for one resource's rows) the index.
func (r *Reader) sharded(shards int, index, before string, limit int, pk func(shard int) string) dynamo.ShardQuery {
	return dynamo.ShardQuery{Table: r.Table, Index: index, Before: before, Limit: limit, PKs: dynamo.ShardPKs(shards, pk)}
}

// sysQuery reads the tenant's one system partition, or the entries about one webhook.
func (r *Reader) sysQuery(q Query, before string) dynamo.ShardQuery {
	sq := dynamo.ShardQuery{Table: r.Table, Before: before, Limit: q.Limit, PKs: []string{keyschema.SystemPK(q.TenantID)}}
	if q.WebhookID != "" {
		sq.Index, sq.PKs = Index, []string{keyschema.ResourceSystemPK(q.TenantID, "webhook", q.WebhookID)}
	}
	return sq
}

func sortNewestFirst(rows []Row) {
	slices.SortStableFunc(rows, func(a, b Row) int { return strings.Compare(b.Timestamp, a.Timestamp) })
}

// Row ids say which log and where: "api-<shard>-<ulid>", "whk-<base64url(SK)>" and "sys-<ulid>".
func apiRow(shard string, e apilog.Entry) Row {
	return Row{
		ID: "api-" + shard + "-" + e.ID, Timestamp: e.Timestamp, Source: SourceAPI, Event: e.Method + " " + e.Endpoint,
		Resource: e.APIKeyName, ResourceID: e.APIKeyID, Status: strconv.Itoa(e.Status), Details: e.SourceIP,
	}
}

func sysRow(e systemlog.Entry) Row {
	return Row{
		ID: "sys-" + e.ID, Timestamp: e.Timestamp, Source: SourceSystem, Event: e.Event,
		Resource: e.ResourceName, ResourceID: e.ResourceID, Status: e.Status, Details: e.Details,
	}
}

func webRow(d delivery.Record) Row {
	details := fmt.Sprintf("%d attempt", d.Attempts)
	if d.Attempts != 1 {
		details += "s"
	}
	if d.LastError != "" && d.Status != delivery.Delivered {
		details = d.LastError + " (" + details + ")"
	}
	if d.Status == delivery.Pending && d.NextAttemptAt != "" {
		details += "; next attempt " + d.NextAttemptAt
	}
	ts := d.UpdatedAt
	if ts == "" {
		ts = d.CreatedAt
	}
	// The row names its record's shard, so the row can be opened (and
	// resent) after a deploy changes DeliveryShards.
	id := "whk-" + base64.RawURLEncoding.EncodeToString([]byte(d.SK))
	if n, ok := keyschema.DeliveryShardOf(d.TenantID, d.PK); ok {
		id = "whk-s" + strconv.Itoa(n) + "-" + base64.RawURLEncoding.EncodeToString([]byte(d.SK))
	}
	return Row{
		ID: id, Timestamp: ts, Source: SourceWebhook, Event: d.Event,
		Resource: d.WebhookName, ResourceID: d.WebhookID, Status: d.Status, Details: details,
	}
}

// DeliveryKey reads a delivery's row id as the key of its record in the
// tenant's partitions: whk-s<shard>-<sort key>, or whk-<sort key> (rows
// listed before ids named their shard: the shard is then computed with the
// setting). Any other id is not found.
func DeliveryKey(tenantID, id string) (delivery.Key, error) {
	notFound := apierror.New(apierror.NotFound, "no delivery %q", id)
	rest, ok := strings.CutPrefix(id, "whk-")
	pk := ""
	if s, named := strings.CutPrefix(rest, "s"); ok && named { // a sort key's base64 begins with its year's, never "s"
		num, b64, cut := strings.Cut(s, "-")
		n, err := strconv.Atoi(num)
		if !cut || err != nil || n < 0 || n >= keyschema.MaxShards || strconv.Itoa(n) != num {
			return delivery.Key{}, notFound
		}
		pk, rest = keyschema.DeliveryPK(tenantID, n), b64
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	sk := string(raw)
	hash := strings.LastIndex(sk, "#")
	if !ok || err != nil || hash < 0 || len(sk) > 200 {
		return delivery.Key{}, notFound
	}
	return delivery.Key{TenantID: tenantID, DeliveryID: sk[hash+1:], SK: sk, PK: pk}, nil
}

// Detail is one row expanded: the full redacted payload and headers.
type Detail struct {
	Row
	Request  map[string]any `json:"request,omitempty"`  // API calls and deliveries
	Response map[string]any `json:"response,omitempty"` // API calls and deliveries
	Attempts any            `json:"attempts,omitempty"` // deliveries
	Data     map[string]any `json:"data,omitempty"`     // system entries
}

// Get expands one row of the tenant; an id of another tenant is simply not found.
func (r *Reader) Get(ctx context.Context, tenantID, id string) (Detail, error) {
	notFound := apierror.New(apierror.NotFound, "no activity %q", id)
	var key map[string]types.AttributeValue
	switch {
	case strings.HasPrefix(id, "api-"):
		shard, ulid, ok := strings.Cut(strings.TrimPrefix(id, "api-"), "-")
		n, err := strconv.Atoi(shard)
		if !ok || err != nil || n < 0 || n >= keyschema.MaxShards || !idPattern.MatchString(ulid) { // not the setting: a lowered one must not hide rows
			return Detail{}, notFound
		}
		key = itemKey(keyschema.APILogPK(tenantID, n), ulid)
	case strings.HasPrefix(id, "sys-"):
		ulid := strings.TrimPrefix(id, "sys-")
		if !idPattern.MatchString(ulid) {
			return Detail{}, notFound
		}
		key = itemKey(keyschema.SystemPK(tenantID), ulid)
	case strings.HasPrefix(id, "whk-"):
		k, err := DeliveryKey(tenantID, id)
		if err != nil {
			return Detail{}, err
		}
		pk := k.PK
		if pk == "" {
			pk = keyschema.DeliveryPK(tenantID, delivery.Shard(k.DeliveryID, r.DeliveryShards))
		}
		key = itemKey(pk, k.SK)
	default:
		return Detail{}, notFound
	}
	out, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Detail{}, dynamo.Translate("read activity", err)
	}
	if out.Item == nil {
		return Detail{}, notFound
	}
	if strings.HasPrefix(id, "sys-") {
		e, err := systemlog.EntryFromItem(out.Item)
		if err != nil {
			return Detail{}, err
		}
		return Detail{Row: sysRow(e), Data: map[string]any{"resourceType": e.ResourceType}}, nil
	}
	if strings.HasPrefix(id, "api-") {
		e, shard, err := apilog.EntryFromItem(out.Item)
		if err != nil {
			return Detail{}, err
		}
		return Detail{
			Row:      apiRow(shard, e),
			Request:  map[string]any{"method": e.Method, "path": e.Endpoint, "headers": e.RequestHeaders, "body": jsonOrText(e.RequestBody), "idempotencyKey": e.IdempotencyKey, "userAgent": e.UserAgent},
			Response: map[string]any{"status": e.Status, "errorCode": e.ErrorCode, "body": jsonOrText(e.ResponseBody), "durationMs": e.DurationMs, "replayed": e.Replayed, "requestId": e.RequestID},
		}, nil
	}
	d, err := delivery.RecordFromItem(out.Item)
	if err != nil {
		return Detail{}, err
	}
	return Detail{
		Row: webRow(d),
		Request: map[string]any{
			"method": "POST", "body": jsonOrText(redact.JSON([]byte(d.Payload))),
			"headers": map[string]string{"content-type": "application/json", "x-uniasset-event": d.Event, "webhook-id": d.DeliveryID,
				"x-uniasset-signature": redact.Marker, "webhook-signature": redact.Marker},
		},
		Response: map[string]any{"status": d.LastStatusCode, "error": d.LastError, "body": string(d.LastResponseBody), "durationMs": d.LastDurationMs},
		Attempts: d.History,
	}, nil
}

func itemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}}
}

// jsonOrText returns stored JSON as a value, anything else as its text.
func jsonOrText(s string) any {
	var v any
	if json.Unmarshal([]byte(s), &v) == nil {
		return v
	}
	return s
}
