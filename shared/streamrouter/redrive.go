package streamrouter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/uniasset/integrations/shared/metrics"
	"github.com/uniasset/integrations/shared/sqsbatch"
)

// StreamsAPI is the DynamoDB Streams calls a redrive makes.
type StreamsAPI interface {
	GetShardIterator(context.Context, *dynamodbstreams.GetShardIteratorInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(context.Context, *dynamodbstreams.GetRecordsInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// MetricStreamRecordsLost counts stream batches a redrive found gone from
// the stream (past its 24 hours): their changes made no events.
const MetricStreamRecordsLost = "StreamBatchesLost"

// Redrive empties StreamDLQ. Lambda parks there a description of each
// stream batch the router failed after its retries (where the records are,
// not the records); a redrive reads those records from the stream again and
// routes them as Lambda would have, late: their events and alerts are what
// the changes made then (an alert for a date the item has since lost fires
// as it would have on time; the passes re-read each item before they fire,
// so a stale due-date entry a replay writes fires nothing). The range can
// hold records of other keys that were routed (ParallelizationFactor splits
// a shard by key): deliveries and alerts are idempotent, so they send
// nothing twice. Delivery ids derive from the records'
// event ids, so records routed before the failure are not sent twice. A
// batch that fails again stays for the next sweep; one whose records the
// stream no longer holds (it keeps them 24 hours) is logged and counted
// (MetricStreamRecordsLost), then dropped: nothing can route it any more.
type Redrive struct {
	SQS     sqsbatch.DrainAPI
	URL     string // StreamDLQ
	Streams StreamsAPI
	Route   func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
}

// Redriven counts what a sweep did.
type Redriven struct {
	Batches   int `json:"batches"`   // batches routed again
	Records   int `json:"records"`   // their records
	Lost      int `json:"lost"`      // batches gone from the stream
	Malformed int `json:"malformed"` // messages that name no batch
	Failed    int `json:"failed"`    // batches that failed again, left for the next sweep
}

// batchInfo is the part of Lambda's on-failure record for a stream batch
// that locates it.
type batchInfo struct {
	ShardID             string `json:"shardId"`
	StartSequenceNumber string `json:"startSequenceNumber"`
	EndSequenceNumber   string `json:"endSequenceNumber"`
	StreamArn           string `json:"streamArn"`
}

// Sweep works through StreamDLQ (sqsbatch.Drain) until it is empty, it
// meets a batch it already took, or ctx's deadline is near.
func (r *Redrive) Sweep(ctx context.Context) (n Redriven, err error) {
	n.Failed, err = sqsbatch.Drain(ctx, r.SQS, r.URL, "StreamDLQ", 120, 15*time.Second,
		func(ctx context.Context, body string) error { return r.one(ctx, body, &n) })
	return n, err
}

func (r *Redrive) one(ctx context.Context, body string, n *Redriven) error {
	var msg struct {
		Batch batchInfo `json:"DDBStreamBatchInfo"`
	}
	b := &msg.Batch
	if json.Unmarshal([]byte(body), &msg) != nil || b.ShardID == "" || b.StreamArn == "" {
		slog.Error("StreamDLQ sweep: dropping a message that names no stream batch")
		n.Malformed++
		return nil
	}
	start, okStart := new(big.Int).SetString(b.StartSequenceNumber, 10)
	end, okEnd := new(big.Int).SetString(b.EndSequenceNumber, 10)
	if !okStart || !okEnd {
		slog.Error("StreamDLQ sweep: dropping a message whose sequence numbers do not parse", "shardId", b.ShardID)
		n.Malformed++
		return nil
	}
	log := slog.With("shardId", b.ShardID, "startSequenceNumber", b.StartSequenceNumber, "endSequenceNumber", b.EndSequenceNumber)
	recs, err := r.read(ctx, *b, start, end)
	if gone(err) {
		metrics.Count(log, MetricStreamRecordsLost, "StreamDLQ sweep: the batch's records are no longer in the stream (kept 24 hours); their changes made no events", "error", err.Error())
		n.Lost++
		return nil
	}
	if err != nil {
		return err
	}
	for from := 0; from < len(recs); from += 100 {
		batch := recs[from:min(from+100, len(recs))]
		resp, err := r.Route(ctx, events.DynamoDBEvent{Records: batch})
		if err == nil && len(resp.BatchItemFailures) > 0 {
			err = errors.New("records still fail to route")
		}
		if err != nil {
			return fmt.Errorf("route a StreamDLQ batch again: %w", err)
		}
	}
	log.Warn("StreamDLQ sweep: batch routed again", "records", len(recs))
	n.Batches++
	n.Records += len(recs)
	return nil
}

// read returns the records of one shard from start to end, inclusive, as
// Lambda passes them. It reads until it meets end: DynamoDB Streams may
// answer empty pages before the records it holds, so an empty page is not
// the end of the batch. Not meeting end (the shard ended, or maxReads
// pages) is an error: the batch is kept, not half routed.
func (r *Redrive) read(ctx context.Context, b batchInfo, start, end *big.Int) ([]events.DynamoDBEventRecord, error) {
	it, err := r.Streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
		StreamArn: aws.String(b.StreamArn), ShardId: aws.String(b.ShardID),
		ShardIteratorType: streamtypes.ShardIteratorTypeAtSequenceNumber, SequenceNumber: aws.String(b.StartSequenceNumber),
	})
	if err != nil {
		return nil, err
	}
	var out []events.DynamoDBEventRecord
	iter := it.ShardIterator
	for reads := 0; iter != nil && reads < maxReads; reads++ {
		page, err := r.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(1000)})
		if err != nil {
			return nil, err
		}
		for _, rec := range page.Records {
			seq, ok := new(big.Int).SetString(aws.ToString(rec.Dynamodb.SequenceNumber), 10)
			if !ok {
				return nil, fmt.Errorf("a stream record's sequence number %q does not parse", aws.ToString(rec.Dynamodb.SequenceNumber))
			}
			if seq.Cmp(end) > 0 {
				return out, nil // end was passed over (not routable, or renumbered)
			}
			if seq.Cmp(start) >= 0 && routable(rec) {
				out = append(out, EventRecord(b.StreamArn, rec))
			}
			if seq.Cmp(end) == 0 {
				return out, nil
			}
		}
		iter = page.NextShardIterator
	}
	return nil, fmt.Errorf("the stream did not reach the batch's last record (%s)", b.EndSequenceNumber)
}

// maxReads bounds the pages one batch's read takes: a batch is at most
// 10,000 records, and a page up to 1,000 (with empty pages between).
const maxReads = 100

// routable is the template's FilterCriteria for AssetChanges: a redrive
// reads the stream itself, so it passes over what Lambda would have.
func routable(r streamtypes.Record) bool {
	if r.Dynamodb == nil {
		return false
	}
	sk, _ := r.Dynamodb.Keys["SK"].(*streamtypes.AttributeValueMemberS)
	if sk == nil {
		return false
	}
	return sk.Value == "ASSET" || strings.HasPrefix(sk.Value, "MAINT#") || strings.HasPrefix(sk.Value, "INCIDENT#") || strings.HasPrefix(sk.Value, "DOC#")
}

// gone reports whether err says the stream no longer holds the records.
func gone(err error) bool {
	var trimmed *streamtypes.TrimmedDataAccessException
	var missing *streamtypes.ResourceNotFoundException
	return errors.As(err, &trimmed) || errors.As(err, &missing)
}

// EventRecord is a stream record as Lambda passes it to a function.
func EventRecord(arn string, r streamtypes.Record) events.DynamoDBEventRecord {
	rec := events.DynamoDBEventRecord{
		EventID: aws.ToString(r.EventID), EventName: string(r.EventName), EventSource: "aws:dynamodb",
		EventVersion: aws.ToString(r.EventVersion), AWSRegion: aws.ToString(r.AwsRegion), EventSourceArn: arn,
	}
	sr := r.Dynamodb
	if sr == nil {
		return rec
	}
	rec.Change = events.DynamoDBStreamRecord{
		Keys: eventImage(sr.Keys), NewImage: eventImage(sr.NewImage), OldImage: eventImage(sr.OldImage),
		SequenceNumber: aws.ToString(sr.SequenceNumber), StreamViewType: string(sr.StreamViewType),
	}
	if sr.SizeBytes != nil {
		rec.Change.SizeBytes = *sr.SizeBytes
	}
	if sr.ApproximateCreationDateTime != nil {
		rec.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *sr.ApproximateCreationDateTime}
	}
	return rec
}

func eventImage(img map[string]streamtypes.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if img == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(img))
	for k, v := range img {
		out[k] = eventValue(v)
	}
	return out
}

func eventValue(v streamtypes.AttributeValue) events.DynamoDBAttributeValue {
	switch x := v.(type) {
	case *streamtypes.AttributeValueMemberS:
		return events.NewStringAttribute(x.Value)
	case *streamtypes.AttributeValueMemberN:
		return events.NewNumberAttribute(x.Value)
	case *streamtypes.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(x.Value)
	case *streamtypes.AttributeValueMemberB:
		return events.NewBinaryAttribute(x.Value)
	case *streamtypes.AttributeValueMemberSS:
		return events.NewStringSetAttribute(x.Value)
	case *streamtypes.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(x.Value)
	case *streamtypes.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(x.Value)
	case *streamtypes.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(x.Value))
		for i, e := range x.Value {
			l[i] = eventValue(e)
		}
		return events.NewListAttribute(l)
	case *streamtypes.AttributeValueMemberM:
		return events.NewMapAttribute(eventImage(x.Value))
	default:
		return events.NewNullAttribute()
	}
}
