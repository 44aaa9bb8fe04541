// Package apilog records every authenticated integration API call for the
// Activity Log. Entries are write-sharded per tenant (keyschema.APILogPK)
// so an IoT fleet's traffic never lands on one partition; the sort key is a
// ULID, so each shard reads newest-first and shards merge by id.
package apilog

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"

	"github.com/uniasset/integrations/shared/compact"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/retention"
)

// maxStoredBody caps what one entry keeps of a request or response body:
// the integration API's largest request (httpapi.MaxBody), so a request is
// kept whole (redaction may lengthen one a little).
const maxStoredBody = 64 << 10

// bodiesAttribute holds an entry's headers and bodies, deflated together
// (compact.Text): a response repeats most of its request's fields, so
// together they pack to little more than one of them. The row's size is
// billed at every write, in the table and again in the ByResource index,
// and read in every list; the bodies are shown only when a row is opened.
const bodiesAttribute = "bodies"

// bodies is what bodiesAttribute packs.
type bodies struct {
	Headers  map[string]string `json:"h,omitempty"`
	Request  string            `json:"q,omitempty"`
	Response string            `json:"r,omitempty"`
}

// Entry is one API call as the Activity Log shows it. Bodies and headers are
// already redacted when they get here.
type Entry struct {
	ID             string `dynamodbav:"id" json:"id"`
	TenantID       string `dynamodbav:"tenantId" json:"-"`
	Timestamp      string `dynamodbav:"timestamp" json:"timestamp"`
	Method         string `dynamodbav:"method" json:"method"`
	Endpoint       string `dynamodbav:"endpoint" json:"endpoint"`
	Status         int    `dynamodbav:"status" json:"status"`
	ErrorCode      string `dynamodbav:"errorCode,omitempty" json:"errorCode,omitempty"`
	APIKeyID       string `dynamodbav:"apiKeyId" json:"apiKeyId"`
	APIKeyName     string `dynamodbav:"apiKeyName" json:"apiKeyName"`
	SourceIP       string `dynamodbav:"sourceIp" json:"sourceIp"`
	UserAgent      string `dynamodbav:"userAgent,omitempty" json:"userAgent,omitempty"`
	RequestID      string `dynamodbav:"requestId" json:"requestId"`
	DurationMs     int64  `dynamodbav:"durationMs" json:"durationMs"`
	IdempotencyKey string `dynamodbav:"idempotencyKey,omitempty" json:"idempotencyKey,omitempty"`
	Replayed       bool   `dynamodbav:"replayed,omitempty" json:"replayed,omitempty"`
	// The attributes of rows written before bodiesAttribute; a new row
	// leaves them out.
	RequestHeaders map[string]string `dynamodbav:"requestHeaders,omitempty" json:"requestHeaders"`
	RequestBody    string            `dynamodbav:"requestBody,omitempty" json:"requestBody"`
	ResponseBody   string            `dynamodbav:"responseBody,omitempty" json:"responseBody"`
}

// Writer appends entries.
type Writer struct {
	DB     dynamo.API
	Table  string
	Shards int
	// Retention is how long call rows are kept.
	Retention retention.Policy
}

// Write stores e under a random shard with a fresh ULID as its sort key.
func (w *Writer) Write(ctx context.Context, e Entry, at time.Time) error {
	id := ulid.MustNew(ulid.Timestamp(at), ulid.DefaultEntropy())
	e.ID = strings.ToLower(id.String())
	e.Timestamp = isotime.Format(at)
	packed, err := json.Marshal(bodies{Headers: e.RequestHeaders, Request: truncate(e.RequestBody), Response: truncate(e.ResponseBody)})
	if err != nil {
		return err
	}
	e.RequestHeaders, e.RequestBody, e.ResponseBody = nil, "", ""
	item, err := attributevalue.MarshalMap(e)
	if err != nil {
		return err
	}
	if item[bodiesAttribute], err = compact.Text(packed).MarshalDynamoDBAttributeValue(); err != nil {
		return err
	}
	shard := rand.IntN(max(w.Shards, 1))
	item["PK"], _ = attributevalue.Marshal(keyschema.APILogPK(e.TenantID, shard))
	item[keyschema.ByResourcePK], _ = attributevalue.Marshal(keyschema.APIKeyCallsPK(e.TenantID, e.APIKeyID, shard))
	item["SK"], _ = attributevalue.Marshal(e.ID)
	if exp := w.Retention.ExpiresAt(at); exp > 0 {
		item[retention.Attribute], _ = attributevalue.Marshal(exp)
	}
	_, err = w.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(w.Table), Item: item})
	return dynamo.Translate("write api log", err)
}

func truncate(s string) string {
	if len(s) <= maxStoredBody {
		return s
	}
	cut := maxStoredBody
	for cut > 0 && (s[cut]&0xC0) == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…[truncated]"
}

// EntryFromItem decodes a stored entry, with the write shard it sits in
// (the last part of its partition key).
func EntryFromItem(item map[string]types.AttributeValue) (e Entry, shard string, err error) {
	if err := attributevalue.UnmarshalMap(item, &e); err != nil {
		return Entry{}, "", err
	}
	if av, ok := item[bodiesAttribute]; ok {
		var packed compact.Text
		var b bodies
		if err := packed.UnmarshalDynamoDBAttributeValue(av); err != nil {
			return Entry{}, "", err
		}
		if err := json.Unmarshal([]byte(packed), &b); err != nil {
			return Entry{}, "", fmt.Errorf("api log bodies: %w", err)
		}
		e.RequestHeaders, e.RequestBody, e.ResponseBody = b.Headers, b.Request, b.Response
	}
	if pk, ok := item["PK"].(*types.AttributeValueMemberS); ok {
		shard = pk.Value[strings.LastIndex(pk.Value, "#")+1:]
	}
	return e, shard, nil
}
