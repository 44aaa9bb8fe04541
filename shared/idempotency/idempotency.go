// Package idempotency makes a client's retry safe: the first response to an
// Idempotency-Key is stored for 24 hours and replayed for a retry with the same
// request; the same key with a different request is refused.
//
// A request first claims its key with a conditional put (state in_progress and
// a short lease), so two concurrent requests with one key cannot both run. The
// response is then stored on the claim. A 5xx releases the claim, so the retry
// runs again. If a process dies holding a claim, the lease expires and a retry
// takes over; writes that a retry could repeat are made idempotent by their
// callers (the create derives its asset id from the key and request).
package idempotency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/dynamo"
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
}

// Store keeps idempotency records in IntegrationsTable at TENANT#t#IDEMPOTENCY#<sha256(key)>.
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
}

// PK is the partition of the record for a client's key. The key is stored
// only as its SHA-256: clients put all sorts of things in it (we have seen API
// keys and card numbers), and the table's keys show up in consoles, metrics
// and exports where attribute values do not.
func PK(tenantID, key string) string {
	sum := sha256.Sum256([]byte(key))
	return "TENANT#" + tenantID + "#IDEMPOTENCY#" + hex.EncodeToString(sum[:])
}

func recordKey(tenantID, key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: PK(tenantID, key)},
		"SK": &types.AttributeValueMemberS{Value: "-"},
	}
}

// Begin claims the key for this request. It returns either a claim (run the
// request) or a stored response (replay it), or an error: IDEMPOTENCY_CONFLICT
// for a different request under the same key, IDEMPOTENCY_IN_PROGRESS while
// another request holds it.
func (s *Store) Begin(ctx context.Context, tenantID, key, fingerprint string, now time.Time) (*Claim, *Response, error) {
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	rec := record{
		Fingerprint: fingerprint, State: "in_progress", Token: hex.EncodeToString(tok[:]),
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
		// Free, expired (TTL deletes lazily), or abandoned by a request whose lease ran out.
		ConditionExpression:      aws.String("attribute_not_exists(PK) OR expiresAt < :now OR (#state = :inProgress AND leaseUntil < :now AND fingerprint = :fp)"),
		ExpressionAttributeNames: map[string]string{"#state": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": nowN, ":inProgress": &types.AttributeValueMemberS{Value: "in_progress"},
			":fp": &types.AttributeValueMemberS{Value: fingerprint},
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return &Claim{store: s, key: k, token: rec.Token}, nil, nil
	}
	if !dynamo.ConditionFailed(err) {
		return nil, nil, dynamo.Translate("claim idempotency key", err)
	}
	var existing record
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) && ccf.Item != nil {
		err = attributevalue.UnmarshalMap(ccf.Item, &existing)
	} else {
		existing, err = s.get(ctx, k)
	}
	if err != nil {
		return nil, nil, err
	}
	switch {
	case existing.Fingerprint != fingerprint:
		return nil, nil, apierror.New(apierror.IdempotencyConflict, "this Idempotency-Key was already used with a different request")
	case existing.State == "completed":
		return nil, &Response{Status: existing.Status, Body: existing.Body}, nil
	default:
		return nil, nil, apierror.New(apierror.IdempotencyInProgress, "a request with this Idempotency-Key is still in progress; retry shortly")
	}
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

// Release gives the key up so that a retry runs the request again.
func (c *Claim) Release(ctx context.Context) error {
	_, err := c.store.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(c.store.Table), Key: c.key,
		ConditionExpression:       aws.String("#token = :token"),
		ExpressionAttributeNames:  map[string]string{"#token": "token"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":token": &types.AttributeValueMemberS{Value: c.token}},
	})
	if dynamo.ConditionFailed(err) {
		return nil
	}
	return dynamo.Translate("release idempotency key", err)
}
