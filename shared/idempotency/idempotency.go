// Package idempotency makes a client's retry safe: the first response to an
// Idempotency-Key is stored for 24 hours and replayed for a retry with the same
// request; the same key with a different request is refused.
//
// A request first claims its key with a conditional put (state in_progress and
// a short lease), so two concurrent requests with one key cannot both run. The
// response is then stored on the claim. An error releases the claim, so the
// retry runs again. If a process dies holding a claim (or cannot store its
// response), the lease expires and a retry takes over. That retry must not
// write a second time: a create derives its id from the key and request, and
// every other write marks the claim as applied in the same transaction as the
// write (Claim.Mark), so the retry learns it happened and answers from what is
// stored. The record's key is the SHA-256 of the client's key.
package idempotency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/keyschema"
)

// MaxKeyLength is the longest Idempotency-Key accepted.
const MaxKeyLength = 255

// Lease is how long a claim blocks other requests with the same key before a
// retry may take over; longer than any request can run (the Lambda timeout).
const Lease = 30 * time.Second

// ValidKey reports whether k is usable: 1-255 visible ASCII characters and no
// commas (a comma would be read as a list separator on the way through API Gateway).
func ValidKey(k string) bool {
	if len(k) == 0 || len(k) > MaxKeyLength {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e || k[i] == ',' {
			return false
		}
	}
	return true
}

// Fingerprint identifies a request: who sent it where, with which body.
func Fingerprint(method, path string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(method + " " + path + "\n"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Response is a stored response to replay.
type Response struct {
	Status int    `dynamodbav:"status"`
	Body   string `dynamodbav:"body"`
}

type record struct {
	Fingerprint string `dynamodbav:"fingerprint"`
	State       string `dynamodbav:"state"`
	Token       string `dynamodbav:"token"`
	LeaseUntil  int64  `dynamodbav:"leaseUntil"`
	ExpiresAt   int64  `dynamodbav:"expiresAt"` // the table's TTL attribute
	Status      int    `dynamodbav:"status,omitempty"`
	Body        string `dynamodbav:"body,omitempty"`
	Applied     string `dynamodbav:"applied,omitempty"`
	Seed        string `dynamodbav:"seed"`
}

// Store keeps idempotency records in IntegrationsTable (keyschema.Idempotency).
type Store struct {
	DB    dynamo.API
	Table string
	TTL   time.Duration
}

// Claim is a held key; Complete or Release it.
type Claim struct {
	store *Store
	key   map[string]types.AttributeValue
	token string
	// Applied is what an earlier run of this request recorded with Mark in the
	// same transaction as its write: that run wrote, then died or lost its
	// response before Complete. The request must not write again; it answers
	// from what is stored. Empty for a first run.
	Applied string
	// Seed is random, made when the key is first used and kept while its
	// record lives: a create derives its new id from it, so every run of the
	// request picks the same id, and the same key used again after the record
	// expired makes a new one.
	Seed string
}

// recordKeyOf is the key of the record for a client's key. The key is stored
// only as its SHA-256: clients put all sorts of things in it (we have seen API
// keys and card numbers), and the table's keys show up in consoles, metrics
// and exports where attribute values do not.
func recordKeyOf(tenantID, key string) keyschema.Key {
	sum := sha256.Sum256([]byte(key))
	return keyschema.Idempotency(tenantID, hex.EncodeToString(sum[:]))
}

func recordKey(tenantID, key string) map[string]types.AttributeValue {
	return recordKeyOf(tenantID, key).Attrs()
}

// Begin claims the key for this request. It returns either a claim (run the
// request) or a stored response (replay it), or an error: IDEMPOTENCY_CONFLICT
// for a different request under the same key, IDEMPOTENCY_IN_PROGRESS while
// another request holds it.
func (s *Store) Begin(ctx context.Context, tenantID, key, fingerprint string, now time.Time) (*Claim, *Response, error) {
	rec := record{
		Fingerprint: fingerprint, State: "in_progress", Token: newToken(), Seed: newToken(),
		LeaseUntil: now.Add(Lease).Unix(), ExpiresAt: now.Add(s.TTL).Unix(),
	}
	item, err := attributevalue.MarshalMap(rec)
	if err != nil {
		return nil, nil, err
	}
	k := recordKey(tenantID, key)
	for n, v := range k {
		item[n] = v
	}
	nowN := &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table), Item: item,
		// Free, or expired (TTL deletes lazily).
		ConditionExpression:                 aws.String("attribute_not_exists(PK) OR expiresAt < :now"),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":now": nowN},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return &Claim{store: s, key: k, token: rec.Token, Seed: rec.Seed}, nil, nil
	}
	if !dynamo.ConditionFailed(err) {
		return nil, nil, dynamo.Translate("claim idempotency key", err)
	}
	var existing record
	if held, _ := dynamo.Refused(err); held != nil {
		err = attributevalue.UnmarshalMap(held, &existing)
	} else {
		existing, err = s.get(ctx, k)
	}
	if err != nil {
		return nil, nil, err
	}
	switch decide(existing, rec.Token, fingerprint, now) {
	case ours:
		return &Claim{store: s, key: k, token: rec.Token, Seed: existing.Seed}, nil, nil
	case conflict:
		return nil, nil, apierror.New(apierror.IdempotencyConflict, "this Idempotency-Key was already used with a different request")
	case replay:
		return nil, &Response{Status: existing.Status, Body: existing.Body}, nil
	case inProgress:
		return nil, nil, errInProgress
	}
	return s.takeOver(ctx, k, existing, now)
}

// verdict is what a request does about a key whose record it could not replace.
type verdict int

const (
	ours       verdict = iota // our own put, whose answer was lost and whose SDK retry met it
	conflict                  // a different request used the key
	replay                    // the same request finished: answer as it did
	inProgress                // the same request is running under a live lease
	takeOver                  // the same request's holder let its lease end: claim it
)

// decide is the pure core of Begin: what the existing record (with the
// token this request's own put used) means for the request.
func decide(existing record, token, fingerprint string, now time.Time) verdict {
	switch {
	case existing.Token == token:
		return ours
	case existing.Fingerprint != fingerprint:
		return conflict
	case existing.State == "completed":
		return replay
	case existing.LeaseUntil >= now.Unix():
		return inProgress
	}
	return takeOver
}

var errInProgress = apierror.New(apierror.IdempotencyInProgress, "a request with this Idempotency-Key is still in progress; retry shortly")

// takeOver claims a key whose holder let its lease run out (it died, or lost
// its response). It updates rather than replaces the record, so what the
// holder marked as applied is kept and handed to the new claim.
func (s *Store) takeOver(ctx context.Context, k map[string]types.AttributeValue, old record, now time.Time) (*Claim, *Response, error) {
	tok := newToken()
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: k,
		UpdateExpression:         aws.String("SET #token = :new, leaseUntil = :lease"),
		ConditionExpression:      aws.String("#token = :old AND #state = :inProgress"),
		ExpressionAttributeNames: map[string]string{"#token": "token", "#state": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":new": &types.AttributeValueMemberS{Value: tok}, ":old": &types.AttributeValueMemberS{Value: old.Token},
			":lease":      &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(Lease).Unix(), 10)},
			":inProgress": &types.AttributeValueMemberS{Value: "in_progress"},
		},
		// The mark is read from the record as it is when the token changes
		// hands, not as Begin read it: the old holder may have marked since.
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var held record
	refusedItem, _ := dynamo.Refused(err)
	switch {
	case err == nil:
		err = attributevalue.UnmarshalMap(out.Attributes, &held)
	case refusedItem != nil:
		if uerr := attributevalue.UnmarshalMap(refusedItem, &held); uerr != nil || held.Token != tok {
			return nil, nil, errInProgress // another retry took it over first
		}
		err = nil // our own update, whose answer was lost and whose SDK retry met it
	case dynamo.ConditionFailed(err):
		return nil, nil, errInProgress
	default:
		return nil, nil, dynamo.Translate("take over idempotency key", err)
	}
	if err != nil {
		return nil, nil, err
	}
	return &Claim{store: s, key: k, token: tok, Applied: held.Applied, Seed: held.Seed}, nil, nil
}

func newToken() string {
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	return hex.EncodeToString(tok[:])
}

// Mark is the write to add to the request's own transaction: it records ref
// (what was written) on the claim, so a retry that takes the key over knows
// the write happened. It fails the transaction if the claim was taken over.
func (c *Claim) Mark(ref string) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(c.store.Table), Key: c.key,
		UpdateExpression:         aws.String("SET applied = :ref"),
		ConditionExpression:      aws.String("#token = :token"),
		ExpressionAttributeNames: map[string]string{"#token": "token"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":ref": &types.AttributeValueMemberS{Value: ref}, ":token": &types.AttributeValueMemberS{Value: c.token},
		},
	}}
}

func (s *Store) get(ctx context.Context, k map[string]types.AttributeValue) (record, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return record{}, dynamo.Translate("read idempotency key", err)
	}
	var rec record
	err = attributevalue.UnmarshalMap(out.Item, &rec)
	return rec, err
}

// Complete stores the response for replay. The token condition keeps a claim
// that was taken over from overwriting the new holder's result.
func (c *Claim) Complete(ctx context.Context, resp Response) error {
	_, err := c.store.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(c.store.Table), Key: c.key,
		UpdateExpression:         aws.String("SET #state = :done, #status = :status, body = :body"),
		ConditionExpression:      aws.String("#token = :token"),
		ExpressionAttributeNames: map[string]string{"#state": "state", "#status": "status", "#token": "token"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":done":   &types.AttributeValueMemberS{Value: "completed"},
			":status": &types.AttributeValueMemberN{Value: strconv.Itoa(resp.Status)},
			":body":   &types.AttributeValueMemberS{Value: resp.Body},
			":token":  &types.AttributeValueMemberS{Value: c.token},
		},
	})
	if dynamo.ConditionFailed(err) {
		return nil
	}
	return dynamo.Translate("complete idempotency key", err)
}

// Release gives the key up so that a retry runs the request again. If this
// run's write was marked as applied (it committed, and what failed came
// after), the record is kept and only its lease ended, so the retry takes it
// over at once and answers without writing again.
func (c *Claim) Release(ctx context.Context) error {
	token := map[string]types.AttributeValue{":token": &types.AttributeValueMemberS{Value: c.token}}
	_, err := c.store.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(c.store.Table), Key: c.key,
		ConditionExpression:       aws.String("#token = :token AND attribute_not_exists(applied)"),
		ExpressionAttributeNames:  map[string]string{"#token": "token"},
		ExpressionAttributeValues: token,
	})
	if !dynamo.ConditionFailed(err) {
		return dynamo.Translate("release idempotency key", err)
	}
	_, err = c.store.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(c.store.Table), Key: c.key,
		UpdateExpression:          aws.String("SET leaseUntil = :zero"),
		ConditionExpression:       aws.String("#token = :token AND attribute_exists(applied)"),
		ExpressionAttributeNames:  map[string]string{"#token": "token"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":token": token[":token"], ":zero": &types.AttributeValueMemberN{Value: "0"}},
	})
	if dynamo.ConditionFailed(err) {
		return nil // taken over meanwhile: the key is no longer ours to release
	}
	return dynamo.Translate("release idempotency key", err)
}
