package webhook

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/retention"
	"github.com/uniasset/integrations/shared/sealing"
	"github.com/uniasset/integrations/shared/systemlog"
)

// Store keeps webhooks in IntegrationsTable (keyschema.Webhook, keyschema.WebhookCount).
type Store struct {
	DB     dynamo.API
	Table  string
	Sealer *sealing.Sealer
	Now    func() time.Time // the clock; nil is time.Now
	// Retention is how long the System entries it writes are kept.
	Retention retention.Policy
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// sealed is what the Sealed attribute holds once opened.
type sealed struct {
	Secret   string            `json:"secret"`
	Headers  map[string]string `json:"headers"`
	Previous []Previous        `json:"previous,omitempty"`
}

func sealContext(tenantID, id string) string { return "webhook:" + tenantID + ":" + id }

func itemKey(tenantID, id string) map[string]types.AttributeValue {
	return keyschema.Webhook(tenantID, id).Attrs()
}

// NewID returns a fresh webhook id.
func NewID() string { return "wh_" + strings.ToLower(ulid.Make().String()) }

func (s *Store) seal(w *Webhook) error {
	w.HeaderNames = slices.Sorted(maps.Keys(w.Headers))
	raw, err := json.Marshal(sealed{Secret: w.Secret, Headers: w.Headers, Previous: w.Previous})
	if err != nil {
		return err
	}
	w.Sealed, err = s.Sealer.Seal(raw, sealContext(w.TenantID, w.ID))
	return err
}

// Open fills Secret and Headers from the sealed attribute.
func (s *Store) Open(w *Webhook) error {
	raw, err := s.Sealer.Open(w.Sealed, sealContext(w.TenantID, w.ID))
	if err != nil {
		return err
	}
	var v sealed
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	w.Secret, w.Headers, w.Previous = v.Secret, v.Headers, v.Previous
	return nil
}

// Create stores a new webhook, refusing more than MaxPerTenant. The cap is
// a count kept beside the webhooks and changed in the same transaction as
// each create and delete, so concurrent creates cannot pass it together
// (listing, then writing, let 20 racing creates at 40 end at 60).
func (s *Store) Create(ctx context.Context, w Webhook) error {
	if err := s.seal(&w); err != nil {
		return err
	}
	item, err := attributevalue.MarshalMap(w)
	if err != nil {
		return err
	}
	for k, v := range itemKey(w.TenantID, w.ID) {
		item[k] = v
	}
	for try := 0; try < countTries; try++ {
		_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: s.countChange(w.TenantID, "+", "#n < :cap", MaxPerTenant)},
			{Put: &types.Put{TableName: aws.String(s.Table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		}})
		failed := dynamo.CancelledAt(err)
		switch {
		case err == nil:
			return nil
		case dynamo.Conflicted(err) && try < countTries-1:
			dynamo.BackOff(ctx, try) // another create or delete of this tenant held the count
		case len(failed) == 2 && failed[1]:
			return apierror.New(apierror.Conflict, "webhook %q already exists", w.ID)
		case len(failed) == 2 && failed[0]:
			counted, err := s.ensureCount(ctx, w.TenantID)
			if err != nil {
				return err
			}
			if counted {
				return apierror.New(apierror.Conflict, "a tenant may have at most %d webhooks", MaxPerTenant)
			}
		default:
			return dynamo.Translate("create webhook", err)
		}
	}
	return apierror.New(apierror.Conflict, "a tenant may have at most %d webhooks", MaxPerTenant)
}

// countTries bounds the transactions one create or delete makes: one that
// lost to a concurrent change of the count is tried again, and a missing
// count is made once.
const countTries = 5

// countKey is the item holding how many webhooks a tenant has. Its sort key
// does not begin with "WEBHOOK#", so listing webhooks never returns it.
func countKey(tenantID string) map[string]types.AttributeValue {
	return keyschema.WebhookCount(tenantID).Attrs()
}

// countChange adds or subtracts one from the tenant's webhook count, on
// condition cond about the count #n and :cap. A missing count fails it.
func (s *Store) countChange(tenantID, op, cond string, limit int) *types.Update {
	return &types.Update{
		TableName: aws.String(s.Table), Key: countKey(tenantID),
		UpdateExpression:         aws.String("SET #n = #n " + op + " :one"),
		ConditionExpression:      aws.String(cond),
		ExpressionAttributeNames: map[string]string{"#n": "webhookCount"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": &types.AttributeValueMemberN{Value: "1"}, ":cap": &types.AttributeValueMemberN{Value: strconv.Itoa(limit)},
		},
	}
}

// ensureCount makes the tenant's count if it has none (a tenant whose
// webhooks predate it), from a consistent listing, and reports whether one
// was there already. While it is missing no create or delete can commit, as
// each needs it, so the listing stays true until the count is written.
func (s *Store) ensureCount(ctx context.Context, tenantID string) (existed bool, err error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: countKey(tenantID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, dynamo.Translate("read webhook count", err)
	}
	if out.Item != nil {
		return true, nil
	}
	hooks, bad, err := s.ListReadable(ctx, tenantID) // an item that does not decode is a webhook too
	if err != nil {
		return false, err
	}
	item := countKey(tenantID)
	item["webhookCount"] = &types.AttributeValueMemberN{Value: strconv.Itoa(len(hooks) + len(bad))}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")})
	if dynamo.ConditionFailed(err) {
		return false, nil // another request made it meanwhile
	}
	return false, dynamo.Translate("count webhooks", err)
}

// Replace writes the editable fields of w (name, URL, events, description,
// secret headers) over the stored webhook, only if it is still at the
// revision w was read at. It sets those fields alone: health, which the
// dispatcher writes without a revision, is never put back to what the editor read.
func (s *Store) Replace(ctx context.Context, w Webhook) error {
	if err := s.seal(&w); err != nil {
		return err
	}
	var description, headerNames, rateLimit, scope, verifiedAt types.AttributeValue // nil: remove the attribute
	if w.VerifiedAt != "" {                                                         // the editor cleared it if the URL changed
		verifiedAt = &types.AttributeValueMemberS{Value: w.VerifiedAt}
	}
	if w.Description != "" {
		description = &types.AttributeValueMemberS{Value: w.Description}
	}
	if len(w.HeaderNames) > 0 {
		headerNames = &types.AttributeValueMemberSS{Value: w.HeaderNames}
	}
	if w.RateLimit > 0 {
		rateLimit = &types.AttributeValueMemberN{Value: strconv.Itoa(w.RateLimit)}
	}
	if !w.Scope.Empty() {
		var err error
		if scope, err = attributevalue.Marshal(w.Scope); err != nil {
			return err
		}
	}
	fields := []struct {
		name  string
		value types.AttributeValue
	}{
		{"name", &types.AttributeValueMemberS{Value: w.Name}},
		{"url", &types.AttributeValueMemberS{Value: w.URL}},
		{"events", &types.AttributeValueMemberSS{Value: w.Events}},
		{"updatedAt", &types.AttributeValueMemberS{Value: w.UpdatedAt}},
		{"sealed", &types.AttributeValueMemberS{Value: w.Sealed}},
		{"description", description},
		{"headerNames", headerNames},
		{"rateLimit", rateLimit},
		{"scope", scope},
		{"verifiedAt", verifiedAt},
	}
	names := map[string]string{"#revision": "revision"}
	values := map[string]types.AttributeValue{
		":prev": &types.AttributeValueMemberN{Value: strconv.FormatInt(w.Revision, 10)},
		":one":  &types.AttributeValueMemberN{Value: "1"},
	}
	cond := revisionCond(w.Revision)
	var update, remove []string
	for _, f := range fields {
		names["#"+f.name] = f.name
		if f.value == nil {
			remove = append(remove, "#"+f.name)
			continue
		}
		values[":"+f.name] = f.value
		update = append(update, "#"+f.name+" = :"+f.name)
	}
	expr := "SET " + strings.Join(update, ", ")
	if len(remove) > 0 {
		expr += " REMOVE " + strings.Join(remove, ", ")
	}
	expr += " ADD #revision :one"
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: itemKey(w.TenantID, w.ID), UpdateExpression: aws.String(expr),
		ConditionExpression: aws.String(cond), ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	})
	if dynamo.ConditionFailed(err) {
		return apierror.New(apierror.Conflict, "the webhook changed or was deleted meanwhile; reload and retry")
	}
	return dynamo.Translate("update webhook", err)
}

// revisionCond is the condition that a webhook is still at revision rev
// (:prev) as #revision; a webhook written before revisions has none.
func revisionCond(rev int64) string {
	if rev == 0 {
		return "attribute_exists(PK) AND (attribute_not_exists(#revision) OR #revision = :prev)"
	}
	return "#revision = :prev"
}

// Unreadable is a webhook item that does not decode: its id (from its key)
// and the decoder's error.
type Unreadable struct {
	ID  string
	Err error
}

// ListReadable returns the tenant's webhooks (sealed fields not opened),
// oldest first. An item that does not decode is left out and reported, so
// one corrupt webhook keeps its tenant's other webhooks from nothing: their
// deliveries, their alerts, their owner's view of them.
func (s *Store) ListReadable(ctx context.Context, tenantID string) (hooks []Webhook, bad []Unreadable, err error) {
	p := dynamodb.NewQueryPaginator(s.DB, &dynamodb.QueryInput{
		TableName:              aws.String(s.Table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :sk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: keyschema.TenantPK(tenantID)},
			":sk": &types.AttributeValueMemberS{Value: keyschema.WebhookPrefix},
		},
		ConsistentRead: aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, dynamo.Translate("list webhooks", err)
		}
		for _, item := range page.Items {
			var w Webhook
			if err := attributevalue.UnmarshalMap(item, &w); err != nil {
				sk, _ := item["SK"].(*types.AttributeValueMemberS)
				id := ""
				if sk != nil {
					id = strings.TrimPrefix(sk.Value, keyschema.WebhookPrefix)
				}
				bad = append(bad, Unreadable{ID: id, Err: err})
				continue
			}
			hooks = append(hooks, w)
		}
	}
	return hooks, bad, nil
}

// Fetched is a webhook read in another store's batch: whether it exists,
// and what went wrong decoding or opening it. The error is kept, not
// returned from the batch, so a caller acts on it only if it needs the webhook.
type Fetched struct {
	Webhook
	Found bool
	Err   error
}

// Read is a read of one webhook, its secret and headers opened, for another
// store to batch with its own items.
func (s *Store) Read(tenantID, id string, into *Fetched) dynamo.Read {
	return dynamo.Read{Table: s.Table, Key: itemKey(tenantID, id), Found: func(item map[string]types.AttributeValue) error {
		into.Found = true
		if into.Err = attributevalue.UnmarshalMap(item, &into.Webhook); into.Err == nil {
			into.Err = s.Open(&into.Webhook)
		}
		return nil
	}}
}

// Get reads one webhook with its secret and headers opened; NOT_FOUND if absent.
func (s *Store) Get(ctx context.Context, tenantID, id string) (Webhook, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: itemKey(tenantID, id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Webhook{}, dynamo.Translate("get webhook", err)
	}
	if out.Item == nil {
		return Webhook{}, apierror.New(apierror.NotFound, "no webhook %q", id)
	}
	var w Webhook
	if err := attributevalue.UnmarshalMap(out.Item, &w); err != nil {
		return Webhook{}, err
	}
	return w, s.Open(&w)
}

// Delete removes the webhook; NOT_FOUND if absent.
func (s *Store) Delete(ctx context.Context, tenantID, id string) error {
	for try := 0; try < countTries; try++ {
		_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Delete: &types.Delete{TableName: aws.String(s.Table), Key: itemKey(tenantID, id), ConditionExpression: aws.String("attribute_exists(PK)")}},
			{Update: s.countChange(tenantID, "-", "#n > :cap", 0)},
		}})
		failed := dynamo.CancelledAt(err)
		switch {
		case err == nil:
			return nil
		case dynamo.Conflicted(err) && try < countTries-1:
			dynamo.BackOff(ctx, try)
		case len(failed) == 2 && failed[0]:
			return apierror.New(apierror.NotFound, "no webhook %q", id)
		case len(failed) == 2 && failed[1]:
			existed, err := s.ensureCount(ctx, tenantID)
			if err != nil {
				return err
			}
			if existed {
				// A count of zero beside a webhook: only a hand edit makes
				// one. The delete must not be refused for it.
				return s.deleteUncounted(ctx, tenantID, id)
			}
		default:
			return dynamo.Translate("delete webhook", err)
		}
	}
	return s.deleteUncounted(ctx, tenantID, id)
}

func (s *Store) deleteUncounted(ctx context.Context, tenantID, id string) error {
	_, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.Table), Key: itemKey(tenantID, id), ConditionExpression: aws.String("attribute_exists(PK)"),
	})
	if dynamo.ConditionFailed(err) {
		return apierror.New(apierror.NotFound, "no webhook %q", id)
	}
	return dynamo.Translate("delete webhook", err)
}

// SetStatus pauses or resumes; NOT_FOUND if absent. Either ends a
// disabling; a resume also starts a failing webhook's streak afresh, so
// the time it was paused or disabled, when nothing was attempted, does not
// count towards disabling it (again), and returns where the streak it
// ended began (failedSince; "" if the webhook was not failing): what the
// Owner may want to recover.
func (s *Store) SetStatus(ctx context.Context, tenantID, id, status string) (w Webhook, failedSince string, err error) {
	now := s.now()
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: itemKey(tenantID, id),
		UpdateExpression:         aws.String("SET #status = :s, updatedAt = :now REMOVE disabledAt, disabledNotified ADD #revision :one"),
		ConditionExpression:      aws.String("attribute_exists(PK)"),
		ExpressionAttributeNames: map[string]string{"#status": "status", "#revision": "revision"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":s": &types.AttributeValueMemberS{Value: status}, ":now": &types.AttributeValueMemberS{Value: isotime.Format(now)},
			":one": &types.AttributeValueMemberN{Value: "1"},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if dynamo.ConditionFailed(err) {
		return Webhook{}, "", apierror.New(apierror.NotFound, "no webhook %q", id)
	}
	if err != nil {
		return Webhook{}, "", dynamo.Translate("set webhook status", err)
	}
	if err := attributevalue.UnmarshalMap(out.Attributes, &w); err != nil {
		return Webhook{}, "", err
	}
	if status != Active || w.FailingSince == "" {
		return w, "", nil
	}
	fresh := isotime.Format(now)
	_, err = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: itemKey(tenantID, id),
		UpdateExpression:         aws.String("SET failingSince = :now, failMarkAt = :now, failMarks = :one"),
		ConditionExpression:      aws.String("#status = :s AND failingSince = :old"),
		ExpressionAttributeNames: map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":s": &types.AttributeValueMemberS{Value: Active}, ":old": &types.AttributeValueMemberS{Value: w.FailingSince},
			":now": &types.AttributeValueMemberS{Value: fresh}, ":one": &types.AttributeValueMemberN{Value: "1"},
		},
	})
	if dynamo.ConditionFailed(err) {
		return w, "", nil // a success ended the streak, or a pause came, meanwhile
	}
	if err != nil {
		return Webhook{}, "", dynamo.Translate("restart a failing streak", err)
	}
	failedSince = w.FailingSince
	w.FailingSince, w.FailMarkAt, w.FailMarks = fresh, fresh, 1
	return w, failedSince, nil
}

// HealthRefresh bounds how often a webhook's health is rewritten while it
// does not change: the item lives in the tenant's partition, which must not
// take writes in proportion to delivery traffic.
const HealthRefresh = time.Minute

// NeedsOutcome reports whether an attempt's outcome must be written: the
// badge changes, or the stored one is older than HealthRefresh.
func (w Webhook) NeedsOutcome(status string, at time.Time) bool {
	if w.LastDeliveryStatus != status {
		return true
	}
	last, err := time.Parse(time.RFC3339Nano, w.LastDeliveryAt)
	return err != nil || at.Sub(last) >= HealthRefresh
}

// Fresh re-reads w's health inputs (the badge's status and time), which other
// attempts may have written since w was read; found is false if w is gone.
// The read is eventually consistent (half the cost, served by any replica):
// the dispatcher calls it at most once a second per webhook and instance.
func (s *Store) Fresh(ctx context.Context, w Webhook) (Webhook, bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: itemKey(w.TenantID, w.ID),
		ProjectionExpression: aws.String("lastDeliveryStatus, lastDeliveryAt"),
	})
	if err != nil || out.Item == nil {
		return w, false, dynamo.Translate("get webhook health", err)
	}
	var h struct {
		Status string `dynamodbav:"lastDeliveryStatus"`
		At     string `dynamodbav:"lastDeliveryAt"`
	}
	if err := attributevalue.UnmarshalMap(out.Item, &h); err != nil {
		return w, false, err
	}
	w.LastDeliveryStatus, w.LastDeliveryAt = h.Status, h.At
	return w, true, nil
}

// MarkSlow records that w's receiver is slow until until, unless a mark
// lasting past renewAfter is there already (concurrent dispatchers then
// write it once). It reports whether it wrote.
func (s *Store) MarkSlow(ctx context.Context, w Webhook, until, renewAfter time.Time) (bool, error) {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: itemKey(w.TenantID, w.ID),
		UpdateExpression:    aws.String("SET slowUntil = :until"),
		ConditionExpression: aws.String("attribute_exists(PK) AND (attribute_not_exists(slowUntil) OR slowUntil < :renew)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":until": &types.AttributeValueMemberS{Value: isotime.Format(until)}, ":renew": &types.AttributeValueMemberS{Value: isotime.Format(renewAfter)},
		},
	})
	if dynamo.ConditionFailed(err) {
		return false, nil
	}
	return err == nil, dynamo.Translate("mark webhook slow", err)
}

// Hold records the pause w's receiver asked for (Retry-After), unless a
// later one is recorded already.
func (s *Store) Hold(ctx context.Context, w Webhook, until time.Time) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: itemKey(w.TenantID, w.ID),
		UpdateExpression:          aws.String("SET holdUntil = :until"),
		ConditionExpression:       aws.String("attribute_exists(PK) AND (attribute_not_exists(holdUntil) OR holdUntil < :until)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":until": &types.AttributeValueMemberS{Value: isotime.Format(until)}},
	})
	if dynamo.ConditionFailed(err) {
		return nil
	}
	return dynamo.Translate("hold webhook", err)
}

// ClearSlow removes w's slow mark (its receiver answers promptly again).
func (s *Store) ClearSlow(ctx context.Context, w Webhook) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: itemKey(w.TenantID, w.ID),
		UpdateExpression: aws.String("REMOVE slowUntil"), ConditionExpression: aws.String("attribute_exists(slowUntil)"),
	})
	if dynamo.ConditionFailed(err) {
		return nil
	}
	return dynamo.Translate("clear webhook slow mark", err)
}

// Delivery outcomes as the health inputs hold them.
const (
	OutcomeDelivered = "delivered"
	OutcomeFailed    = "failed"
)

// RecordOutcome sets the health inputs from a delivery attempt of w, unless a
// later attempt was already recorded (attempts finish out of order). When the
// attempt turns the badge failing, or healthy again, the same transaction
// writes a System entry (detail says why), so the Activity Log shows each
// change exactly once. Every write is conditional on the status it replaces:
// if w was stale the item is re-read and the write made once more.
func (s *Store) RecordOutcome(ctx context.Context, w Webhook, outcome string, at time.Time, detail string) error {
	atS := isotime.Format(at)
	for range 2 {
		err := s.writeOutcome(ctx, w, outcome, at, detail)
		if !dynamo.ConditionFailed(err) {
			return err
		}
		out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: itemKey(w.TenantID, w.ID), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return dynamo.Translate("get webhook", err)
		}
		if out.Item == nil {
			return nil // deleted meanwhile
		}
		var fresh Webhook
		if err := attributevalue.UnmarshalMap(out.Item, &fresh); err != nil {
			return err
		}
		if fresh.LastDeliveryAt > atS {
			return nil // a later attempt has spoken
		}
		w = fresh
	}
	return nil // lost twice to concurrent attempts, which recorded the same health
}

func (s *Store) writeOutcome(ctx context.Context, w Webhook, outcome string, at time.Time, detail string) error {
	values := map[string]types.AttributeValue{
		":s": &types.AttributeValueMemberS{Value: outcome}, ":at": &types.AttributeValueMemberS{Value: isotime.Format(at)},
	}
	cond := "attribute_exists(PK) AND (attribute_not_exists(lastDeliveryAt) OR lastDeliveryAt <= :at) AND "
	if w.LastDeliveryStatus == "" {
		cond += "attribute_not_exists(lastDeliveryStatus)"
	} else {
		cond += "lastDeliveryStatus = :old"
		values[":old"] = &types.AttributeValueMemberS{Value: w.LastDeliveryStatus}
	}
	update := &types.Update{
		TableName: aws.String(s.Table), Key: itemKey(w.TenantID, w.ID),
		UpdateExpression:    aws.String("SET lastDeliveryStatus = :s, lastDeliveryAt = :at"),
		ConditionExpression: aws.String(cond), ExpressionAttributeValues: values,
	}
	event, health := "", ""
	switch {
	case outcome == OutcomeFailed && w.LastDeliveryStatus != OutcomeFailed:
		// A failing streak begins: its start and first occasion (DisableRule).
		event, health = systemlog.WebhookFailing, "failing"
		update.UpdateExpression = aws.String("SET lastDeliveryStatus = :s, lastDeliveryAt = :at, failingSince = :at, failMarkAt = :at, failMarks = :one")
		values[":one"] = &types.AttributeValueMemberN{Value: "1"}
	case outcome == OutcomeDelivered && w.LastDeliveryStatus == OutcomeFailed:
		event, health = systemlog.WebhookRecovered, "healthy"
		update.UpdateExpression = aws.String("SET lastDeliveryStatus = :s, lastDeliveryAt = :at REMOVE failingSince, failMarkAt, failMarks")
	}
	if event == "" {
		_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: update.TableName, Key: update.Key, UpdateExpression: update.UpdateExpression,
			ConditionExpression: update.ConditionExpression, ExpressionAttributeValues: update.ExpressionAttributeValues,
		})
		return dynamo.Translate("record webhook outcome", err)
	}
	entry, err := systemlog.Item(systemlog.Entry{
		TenantID: w.TenantID, Event: event, ResourceType: "webhook", ResourceID: w.ID, ResourceName: w.Name, Status: health, Details: detail,
	}, at, s.Retention)
	if err != nil {
		return err
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: update},
		{Put: &types.Put{TableName: aws.String(s.Table), Item: entry, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
	}})
	return dynamo.Translate("record webhook outcome", err)
}
