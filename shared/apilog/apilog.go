// Package apilog records every authenticated integration API call for the
// Activity Log. Entries are write-sharded per tenant (keyschema.APILogPK)
// so an IoT fleet's traffic never lands on one partition; the sort key is a
// ULID, so each shard reads newest-first and shards merge by id.
package apilog

import (
	"context"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/retention"
)

// maxStoredBody caps what one entry keeps of a request or response body.
const maxStoredBody = 16 << 10

// Entry is one API call as the Activity Log shows it. Bodies and headers are
// already redacted when they get here.
type Entry struct {
	ID             string            `dynamodbav:"id" json:"id"`
	TenantID       string            `dynamodbav:"tenantId" json:"-"`
	Timestamp      string            `dynamodbav:"timestamp" json:"timestamp"`
	Method         string            `dynamodbav:"method" json:"method"`
	Endpoint       string            `dynamodbav:"endpoint" json:"endpoint"`
	Status         int               `dynamodbav:"status" json:"status"`
	ErrorCode      string            `dynamodbav:"errorCode,omitempty" json:"errorCode,omitempty"`
	APIKeyID       string            `dynamodbav:"apiKeyId" json:"apiKeyId"`
	APIKeyName     string            `dynamodbav:"apiKeyName" json:"apiKeyName"`
	SourceIP       string            `dynamodbav:"sourceIp" json:"sourceIp"`
	UserAgent      string            `dynamodbav:"userAgent,omitempty" json:"userAgent,omitempty"`
	RequestID      string            `dynamodbav:"requestId" json:"requestId"`
	DurationMs     int64             `dynamodbav:"durationMs" json:"durationMs"`
	IdempotencyKey string            `dynamodbav:"idempotencyKey,omitempty" json:"idempotencyKey,omitempty"`
	Replayed       bool              `dynamodbav:"replayed,omitempty" json:"replayed,omitempty"`
	RequestHeaders map[string]string `dynamodbav:"requestHeaders" json:"requestHeaders"`
	RequestBody    string            `dynamodbav:"requestBody" json:"requestBody"`
	ResponseBody   string            `dynamodbav:"responseBody" json:"responseBody"`
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
	e.RequestBody = truncate(e.RequestBody)
	e.ResponseBody = truncate(e.ResponseBody)
	item, err := attributevalue.MarshalMap(e)
	if err != nil {
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
	if pk, ok := item["PK"].(*types.AttributeValueMemberS); ok {
		shard = pk.Value[strings.LastIndex(pk.Value, "#")+1:]
	}
	return e, shard, nil
}
