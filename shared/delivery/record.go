package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/compact"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/retention"
)

// Statuses of a delivery.
const (
	Pending   = "pending"
	Delivered = "delivered"
	Failed    = "failed"
)

// Event is something that happened, ready to be delivered.
type Event struct {
	SourceID string // the stream record's eventID, or a fresh id for a test event
	Name     string
	TenantID string
	Time     string // ISO 8601, when it happened
	Data     any
	Test     bool
	// AssetID is the asset the event is about, and Asset that asset when
	// the event's maker has it (nil: the router reads it if a scoped
	// webhook needs it). Webhook scopes are matched against it; neither is
	// sent.
	AssetID string
	Asset   *asset.Asset
}

// Payload is the body every receiver gets (the spec's shape, field order kept).
func (e Event) Payload() ([]byte, error) {
	return json.Marshal(struct {
		Event     string `json:"event"`
		Timestamp string `json:"timestamp"`
		Data      any    `json:"data"`
	}{e.Name, e.Time, e.Data})
}

// ID derives the delivery id from the source event, event name and webhook, so
// a replayed stream batch finds the same delivery instead of making a second.
func ID(sourceID, event, webhookID string) string {
	sum := sha256.Sum256([]byte(sourceID + "|" + event + "|" + webhookID))
	return "msg_" + strings.ToLower(base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:16]))
}

// Attempt is one try, kept on the record.
type Attempt struct {
	N          int    `dynamodbav:"n" json:"attempt"`
	At         string `dynamodbav:"at" json:"at"`
	StatusCode int    `dynamodbav:"statusCode,omitempty" json:"statusCode,omitempty"`
	Error      string `dynamodbav:"error,omitempty" json:"error,omitempty"`
	DurationMs int64  `dynamodbav:"durationMs" json:"durationMs"`
}

// Record is a delivery of one event to one webhook, updated as attempts happen.
type Record struct {
	TenantID         string       `dynamodbav:"tenantId"`
	DeliveryID       string       `dynamodbav:"deliveryId"`
	WebhookID        string       `dynamodbav:"webhookId"`
	WebhookName      string       `dynamodbav:"webhookName"`
	Event            string       `dynamodbav:"event"`
	SourceID         string       `dynamodbav:"sourceId"`
	Test             bool         `dynamodbav:"test,omitempty"`
	Payload          compact.Text `dynamodbav:"payload"`
	Status           string       `dynamodbav:"status"`
	Attempts         int          `dynamodbav:"attempts"`
	NextAttemptAt    string       `dynamodbav:"nextAttemptAt,omitempty"`
	InFlightUntil    string       `dynamodbav:"inFlightUntil,omitempty"`
	LastStatusCode   int          `dynamodbav:"lastStatusCode,omitempty"`
	LastError        string       `dynamodbav:"lastError,omitempty"`
	LastDurationMs   int64        `dynamodbav:"lastDurationMs,omitempty"`
	LastResponseBody compact.Text `dynamodbav:"lastResponseBody,omitempty"`
	CreatedAt        string       `dynamodbav:"createdAt"`
	UpdatedAt        string       `dynamodbav:"updatedAt"`
	DeliveredAt      string       `dynamodbav:"deliveredAt,omitempty"`
	History          []Attempt    `dynamodbav:"history"`
	// ExpiresAt is the table's TTL (retention.Policy); 0: kept.
	ExpiresAt int64 `dynamodbav:"expiresAt,omitempty"`
	// A resend opens a round of attempts of its own: RoundFrom is how many
	// attempts came before it and RoundAttempts how many it may make (0:
	// the whole retry schedule).
	RoundFrom     int `dynamodbav:"roundFrom,omitempty"`
	RoundAttempts int `dynamodbav:"roundAttempts,omitempty"`
	// Redrives counts the times the dead-letter sweep queued it again
	// (since its last resend or recovery).
	Redrives int `dynamodbav:"redrives,omitempty"`
	// RecoveredBy is the last recovery that re-opened it.
	RecoveredBy string `dynamodbav:"recoveredBy,omitempty"`
	SK          string `dynamodbav:"SK"`
	// PK is the record's partition: its tenant's shard at the time it was
	// written. Kept and carried in its messages, so a change of
	// DeliveryShards never sends a reader to another shard.
	PK string `dynamodbav:"PK"`
	// keyschema.WebhookDeliveriesPK: the activity log's webhook filter and
	// a recovery's reads. It is set when the delivery first has an outcome
	// (Finish, Discard) or first waits for its turn (Store.List), not when
	// it is created: the index projects every attribute, so while a record
	// is out of it, its create and first claim are written once, not twice.
	// A tag cannot name a constant: TestRecordTagsNameTheIndexAttribute
	// keeps it keyschema.ByResourcePK.
	ByResourcePK string `dynamodbav:"GSI1PK,omitempty"`
}

// Key locates a record: the partition is sharded per tenant by delivery id so
// one tenant's burst spreads over Shards partitions.
type Key struct {
	TenantID   string `json:"tenantId"`
	DeliveryID string `json:"deliveryId"`
	SK         string `json:"sk"`
	WebhookID  string `json:"webhookId"`
	// PK is the record's partition as written ("": a message from before
	// it was carried, whose partition is computed with the setting).
	PK string `json:"pk,omitempty"`
	// A message waiting at the gate (delivery.Gate) carries how many of its
	// steps it has passed, for which attempt, and when its slot starts.
	Gate      int    `json:"gate,omitempty"`
	GateFor   int    `json:"gateFor,omitempty"`
	NotBefore string `json:"notBefore,omitempty"`
	// GateSlow: the steps were passed under the slow schedule.
	GateSlow bool `json:"gateSlow,omitempty"`
	// Late: it came back well after the slot it reserved (a backlog ahead
	// of it in the queue, a dispatcher outage): 1 once, 2 again. It keeps
	// its slot, which was counted against the rate, but first passes the
	// late steps: the webhook's late deliveries are paced at its rate
	// among themselves (and a slow one's by its tenant's slow share), so a
	// backlog catching up reaches a receiver at most at twice its rate,
	// not all at once; and a lagging queue cannot starve a webhook by
	// making every delivery give up its slot and take a later one. Late
	// again, it takes a late slot only if one is free now.
	Late int `json:"late,omitempty"`
}

func (k Key) pk(shards int) string {
	if k.PK != "" {
		return k.PK
	}
	return keyschema.DeliveryPK(k.TenantID, Shard(k.DeliveryID, shards))
}

// indexPK is the record's partition of the ByResource index: its
// webhook's, in the record's shard.
func (k Key) indexPK(shards int) string {
	shard, ok := keyschema.DeliveryShardOf(k.TenantID, k.pk(shards))
	if !ok {
		shard = Shard(k.DeliveryID, shards)
	}
	return keyschema.WebhookDeliveriesPK(k.TenantID, k.WebhookID, shard)
}

// Shard is the write shard of a delivery, from its id.
func Shard(deliveryID string, shards int) int { return keyschema.Shard(deliveryID, shards) }

func (k Key) attrs(shards int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: k.pk(shards)},
		"SK": &types.AttributeValueMemberS{Value: k.SK},
	}
}

// Key returns the record's key.
func (r Record) Key() Key {
	return Key{TenantID: r.TenantID, DeliveryID: r.DeliveryID, SK: r.SK, WebhookID: r.WebhookID, PK: r.PK}
}

// Store keeps delivery records in IntegrationsTable.
type Store struct {
	DB     dynamo.API
	Table  string
	Shards int
	// Retention is how long delivery records (and the System entries a
	// resend or a recovery writes) are kept.
	Retention retention.Policy
}

// CreateIfNew writes r unless a record with its key exists; it returns the stored one then.
func (s *Store) CreateIfNew(ctx context.Context, r Record) (created bool, existing Record, err error) {
	item, err := attributevalue.MarshalMap(r)
	if err != nil {
		return false, Record{}, err
	}
	for k, v := range r.Key().attrs(s.Shards) {
		item[k] = v
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if dynamo.ConditionFailed(err) {
		existing, found, gerr := s.Get(ctx, r.Key())
		if gerr != nil || !found {
			return false, Record{}, gerr
		}
		return false, existing, nil
	}
	return err == nil, Record{}, dynamo.Translate("create delivery", err)
}

// Get reads a record with a strongly consistent read.
func (s *Store) Get(ctx context.Context, k Key) (Record, bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: k.attrs(s.Shards), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Record{}, false, dynamo.Translate("get delivery", err)
	}
	if out.Item == nil {
		return Record{}, false, nil
	}
	var r Record
	err = attributevalue.UnmarshalMap(out.Item, &r)
	return r, err == nil, err
}

// GetWith reads a record together with other stores' items (the
// dispatcher's webhook) in one consistent BatchGetItem.
func (s *Store) GetWith(ctx context.Context, k Key, also ...dynamo.Read) (Record, bool, error) {
	var (
		rec   Record
		found bool
	)
	read := dynamo.Read{Table: s.Table, Key: k.attrs(s.Shards), Found: func(item map[string]types.AttributeValue) error {
		found = true
		return attributevalue.UnmarshalMap(item, &rec)
	}}
	err := dynamo.GetTogether(ctx, s.DB, "read delivery", append([]dynamo.Read{read}, also...)...)
	return rec, found && err == nil, err
}

// Claim takes attempt number n for this process. Only one copy of a message
// can win it, so a message received twice is still sent once per attempt.
func (s *Store) Claim(ctx context.Context, k Key, n int, now time.Time, lease time.Duration) (bool, error) {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: k.attrs(s.Shards),
		UpdateExpression:         aws.String("SET attempts = :n, inFlightUntil = :until"),
		ConditionExpression:      aws.String("#status = :pending AND attempts = :prev AND (attribute_not_exists(inFlightUntil) OR inFlightUntil < :now)"),
		ExpressionAttributeNames: map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n":       &types.AttributeValueMemberN{Value: strconv.Itoa(n)},
			":prev":    &types.AttributeValueMemberN{Value: strconv.Itoa(n - 1)},
			":until":   &types.AttributeValueMemberS{Value: isotime.Format(now.Add(lease))},
			":now":     &types.AttributeValueMemberS{Value: isotime.Format(now)},
			":pending": &types.AttributeValueMemberS{Value: Pending},
		},
	})
	if dynamo.ConditionFailed(err) {
		return false, nil
	}
	return err == nil, dynamo.Translate("claim delivery", err)
}

// Outcome is what one attempt ended in.
type Outcome struct {
	Attempt       Attempt
	Status        string // Pending (a retry is scheduled), Delivered or Failed
	NextAttemptAt string
	ResponseBody  string
}

// Finish records attempt o.Attempt.N, if this process still holds it.
func (s *Store) Finish(ctx context.Context, k Key, o Outcome) error {
	attempt, err := attributevalue.Marshal([]Attempt{o.Attempt})
	if err != nil {
		return err
	}
	body, err := compact.Text(o.ResponseBody).MarshalDynamoDBAttributeValue()
	if err != nil {
		return err
	}
	set := []string{"#status = :status", "#idx = :idx", "updatedAt = :at", "lastDurationMs = :dur", "lastResponseBody = :body",
		"history = list_append(if_not_exists(history, :empty), :attempt)", "lastStatusCode = :code", "lastError = :err"}
	values := map[string]types.AttributeValue{
		":status": &types.AttributeValueMemberS{Value: o.Status}, ":at": &types.AttributeValueMemberS{Value: o.Attempt.At},
		":dur":     &types.AttributeValueMemberN{Value: strconv.FormatInt(o.Attempt.DurationMs, 10)},
		":body":    body,
		":empty":   &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		":attempt": attempt, ":code": &types.AttributeValueMemberN{Value: strconv.Itoa(o.Attempt.StatusCode)},
		":err": &types.AttributeValueMemberS{Value: o.Attempt.Error}, ":n": &types.AttributeValueMemberN{Value: strconv.Itoa(o.Attempt.N)},
		":idx": &types.AttributeValueMemberS{Value: k.indexPK(s.Shards)},
	}
	remove := []string{"inFlightUntil"}
	if o.NextAttemptAt != "" {
		set = append(set, "nextAttemptAt = :next")
		values[":next"] = &types.AttributeValueMemberS{Value: o.NextAttemptAt}
	} else {
		remove = append(remove, "nextAttemptAt")
	}
	if o.Status == Delivered {
		set = append(set, "deliveredAt = :at")
	}
	_, err = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: k.attrs(s.Shards),
		UpdateExpression:          aws.String("SET " + strings.Join(set, ", ") + " REMOVE " + strings.Join(remove, ", ")),
		ConditionExpression:       aws.String("attempts = :n"),
		ExpressionAttributeNames:  map[string]string{"#status": "status", "#idx": keyschema.ByResourcePK},
		ExpressionAttributeValues: values,
	})
	if dynamo.ConditionFailed(err) {
		return nil
	}
	return dynamo.Translate("finish delivery", err)
}

// Discard ends a pending delivery without sending it (its webhook was deleted
// or paused). A delivery with an attempt in flight is left to that attempt:
// its outcome is recorded, and a retry it schedules is judged then. inFlight
// reports that case; a delivery already ended is neither.
func (s *Store) Discard(ctx context.Context, k Key, reason string, now time.Time) (inFlight bool, err error) {
	at := &types.AttributeValueMemberS{Value: isotime.Format(now)}
	_, err = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: k.attrs(s.Shards),
		UpdateExpression:         aws.String("SET #status = :failed, #idx = :idx, lastError = :reason, updatedAt = :at REMOVE nextAttemptAt, inFlightUntil"),
		ConditionExpression:      aws.String("#status = :pending AND (attribute_not_exists(inFlightUntil) OR inFlightUntil < :at)"),
		ExpressionAttributeNames: map[string]string{"#status": "status", "#idx": keyschema.ByResourcePK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":failed": &types.AttributeValueMemberS{Value: Failed}, ":pending": &types.AttributeValueMemberS{Value: Pending},
			":reason": &types.AttributeValueMemberS{Value: reason}, ":at": at, ":idx": &types.AttributeValueMemberS{Value: k.indexPK(s.Shards)},
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if held, refused := dynamo.Refused(err); refused {
		var r Record
		if held != nil && attributevalue.UnmarshalMap(held, &r) == nil {
			return r.Status == Pending, nil
		}
		return false, nil
	}
	return false, dynamo.Translate("discard delivery", err)
}

// List puts a record that has had no outcome yet in its webhook's
// partition of the ByResource index, so a delivery waiting for its turn
// (its receiver's rate, a Retry-After, a slow receiver's share) shows
// under the webhook's filter before its first attempt. A record that is
// gone is left so.
func (s *Store) List(ctx context.Context, k Key) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: k.attrs(s.Shards),
		UpdateExpression:          aws.String("SET #idx = :idx"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeNames:  map[string]string{"#idx": keyschema.ByResourcePK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":idx": &types.AttributeValueMemberS{Value: k.indexPK(s.Shards)}},
	})
	if dynamo.ConditionFailed(err) {
		return nil
	}
	return dynamo.Translate("list delivery", err)
}

// Recent returns up to limit of the tenant's deliveries, newest first.
func (s *Store) Recent(ctx context.Context, tenantID string, limit int) ([]Record, error) {
	pks := dynamo.ShardPKs(s.Shards, func(i int) string { return keyschema.DeliveryPK(tenantID, i) })
	items, err := dynamo.NewestAcrossShards(ctx, s.DB, dynamo.ShardQuery{Table: s.Table, PKs: pks, Limit: limit})
	if err != nil {
		return nil, err
	}
	var out []Record
	return out, attributevalue.UnmarshalListOfMaps(items, &out)
}

// RecordFromItem decodes a stored delivery record.
func RecordFromItem(item map[string]types.AttributeValue) (Record, error) {
	var r Record
	err := attributevalue.UnmarshalMap(item, &r)
	return r, err
}
