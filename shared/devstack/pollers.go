package devstack

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// StreamHandler and QueueHandler are the Lambda handler shapes the pollers call.
type (
	StreamHandler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
	QueueHandler  func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
)

// streamRetries is how often a failing batch is retried before it is skipped
// (Lambda would send it to the on-failure destination).
const streamRetries = 5

// pollStream stands in for Lambda's DynamoDB event source mapping: it reads
// every shard of the table's stream and calls the handler with batches,
// retrying from a reported SequenceNumber. Each poll asks for a fresh iterator
// after the last record handled: iterators expire (15 minutes on AWS), and
// moto replaces its shard object when a transaction is rolled back, which
// strands an old iterator. The stream is read from its start (TRIM_HORIZON):
// replaying a record is harmless because delivery ids are derived from it.
func pollStream(ctx context.Context, awsCfg aws.Config, table string, handle StreamHandler) error {
	desc, err := dynamodb.NewFromConfig(awsCfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return err
	}
	arn := aws.ToString(desc.Table.LatestStreamArn)
	streams := dynamodbstreams.NewFromConfig(awsCfg)
	lastSeq := map[string]string{} // shard id -> last sequence number handled ("" = none yet)
	discover := func() {
		out, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
		if err != nil {
			return
		}
		for _, sh := range out.StreamDescription.Shards {
			if _, seen := lastSeq[aws.ToString(sh.ShardId)]; !seen {
				lastSeq[aws.ToString(sh.ShardId)] = ""
			}
		}
	}
	discover()
	go func() {
		for tick := 1; ctx.Err() == nil; tick++ {
			busy := false
			for shard, seq := range lastSeq {
				in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn), ShardId: aws.String(shard), ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon}
				if seq != "" {
					in.ShardIteratorType, in.SequenceNumber = streamtypes.ShardIteratorTypeAfterSequenceNumber, aws.String(seq)
				}
				it, err := streams.GetShardIterator(ctx, in)
				if err != nil {
					if ctx.Err() == nil {
						slog.Warn("stream poller", "error", err.Error())
					}
					continue
				}
				out, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(100)})
				if err != nil {
					if ctx.Err() == nil {
						slog.Warn("stream poller", "error", err.Error())
					}
					continue
				}
				if len(out.Records) > 0 {
					busy = true
					deliverStreamBatch(ctx, arn, out.Records, handle)
					lastSeq[shard] = aws.ToString(out.Records[len(out.Records)-1].Dynamodb.SequenceNumber)
				}
			}
			if tick%50 == 0 {
				discover()
			}
			if !busy {
				sleep(ctx, 100*time.Millisecond)
			}
		}
	}()
	return nil
}

func deliverStreamBatch(ctx context.Context, arn string, recs []streamtypes.Record, handle StreamHandler) {
	batch := make([]events.DynamoDBEventRecord, len(recs))
	for i, r := range recs {
		batch[i] = toEventRecord(arn, r)
	}
	for try := 0; len(batch) > 0 && ctx.Err() == nil; try++ {
		resp, err := handle(ctx, events.DynamoDBEvent{Records: batch})
		if err == nil && len(resp.BatchItemFailures) == 0 {
			return
		}
		if try == streamRetries {
			slog.Error("stream batch given up after retries", "records", len(batch))
			return
		}
		if err == nil { // retry from the first failed record, as Lambda does
			failed := resp.BatchItemFailures[0].ItemIdentifier
			for i, r := range batch {
				if r.Change.SequenceNumber == failed {
					batch = batch[i:]
					break
				}
			}
		}
		sleep(ctx, time.Duration(try+1)*200*time.Millisecond)
	}
}

func toEventRecord(arn string, r streamtypes.Record) events.DynamoDBEventRecord {
	sr := r.Dynamodb
	rec := events.DynamoDBEventRecord{
		EventID: aws.ToString(r.EventID), EventName: string(r.EventName), EventSource: "aws:dynamodb",
		EventVersion: aws.ToString(r.EventVersion), AWSRegion: aws.ToString(r.AwsRegion), EventSourceArn: arn,
	}
	if sr == nil {
		return rec
	}
	rec.Change = events.DynamoDBStreamRecord{
		Keys: toEventImage(sr.Keys), NewImage: toEventImage(sr.NewImage), OldImage: toEventImage(sr.OldImage),
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

func toEventImage(img map[string]streamtypes.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if img == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(img))
	for k, v := range img {
		out[k] = toEventValue(v)
	}
	return out
}

func toEventValue(v streamtypes.AttributeValue) events.DynamoDBAttributeValue {
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
			l[i] = toEventValue(e)
		}
		return events.NewListAttribute(l)
	case *streamtypes.AttributeValueMemberM:
		return events.NewMapAttribute(toEventImage(x.Value))
	default:
		return events.NewNullAttribute()
	}
}

// pollQueue stands in for Lambda's SQS event source mapping: batches of up to
// ten, and every message the handler did not report as failed is deleted.
func pollQueue(ctx context.Context, awsCfg aws.Config, queueURL, queueARN string, handle QueueHandler) {
	q := sqs.NewFromConfig(awsCfg)
	for ctx.Err() == nil {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			if ctx.Err() == nil {
				slog.Warn("queue poller", "error", err.Error())
				sleep(ctx, 500*time.Millisecond)
			}
			continue
		}
		if len(out.Messages) == 0 {
			continue
		}
		ev := events.SQSEvent{}
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{
				MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
				Attributes: m.Attributes, EventSource: "aws:sqs", EventSourceARN: queueARN, Md5OfBody: aws.ToString(m.MD5OfBody),
			})
		}
		resp, err := handle(ctx, ev)
		if err != nil {
			continue // the whole batch returns after its visibility timeout
		}
		keep := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			keep[f.ItemIdentifier] = true
		}
		var del []sqstypes.DeleteMessageBatchRequestEntry
		for _, m := range out.Messages {
			if !keep[aws.ToString(m.MessageId)] {
				del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: m.MessageId, ReceiptHandle: m.ReceiptHandle})
			}
		}
		if len(del) > 0 {
			if _, err := q.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: del}); err != nil && ctx.Err() == nil {
				slog.Warn("queue poller delete", "error", err.Error())
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
