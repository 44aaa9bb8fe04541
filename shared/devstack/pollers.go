package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/uniasset/integrations/shared/streamrouter"
)

// StreamHandler and QueueHandler are the Lambda handler shapes the pollers call.
type (
	StreamHandler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
	QueueHandler  func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
)

// StreamSource is a function's DynamoDB event source, as the template sets it.
type StreamSource struct {
	Function  string // logical id of the function it feeds
	StreamARN string
	BatchSize int32
	Retries   int    // MaximumRetryAttempts (-1: until the records expire)
	OnFailure string // URL of the SQS on-failure destination ("" = none)
	Filter    EventFilter
	onFailARN string
}

// StreamSource reads fn's DynamoDB event from the template.
func (t *Template) StreamSource(fn string, res Resources) (StreamSource, error) {
	r := t.Resources[fn]
	events, _ := r.Properties["Events"].(map[string]any)
	for _, e := range events {
		ev, _ := e.(map[string]any)
		if ev["Type"] != "DynamoDB" {
			continue
		}
		props, _ := ev["Properties"].(map[string]any)
		arn, err := t.resolve(props["Stream"], res)
		if err != nil {
			return StreamSource{}, err
		}
		src := StreamSource{StreamARN: arn, BatchSize: 100, Retries: -1, Function: fn}
		if n, ok := props["BatchSize"].(int); ok {
			src.BatchSize = int32(n)
		}
		if n, ok := props["MaximumRetryAttempts"].(int); ok {
			src.Retries = n
		}
		if src.Filter, err = parseFilter(props); err != nil {
			return StreamSource{}, fmt.Errorf("%s: %w", fn, err)
		}
		if src.onFailARN, err = t.onFailureQueue(props, res); err != nil {
			return StreamSource{}, err
		}
		for _, p := range res {
			if p.ARN == src.onFailARN && p.URL != "" {
				src.OnFailure = p.URL
			}
		}
		return src, nil
	}
	return StreamSource{}, fmt.Errorf("%s has no DynamoDB event", fn)
}

// handled remembers the records a shard's poller has passed: their event ids
// by sequence number, the newest few thousand.
type handled struct {
	seqs []string          // in order
	ids  map[string]string // sequence number -> event id
}

const handledWindow = 5000

func (h *handled) add(seq, id string) {
	if h.ids == nil {
		h.ids = map[string]string{}
	}
	h.seqs = append(h.seqs, seq)
	h.ids[seq] = id
	if len(h.seqs) > handledWindow {
		delete(h.ids, h.seqs[0])
		h.seqs = h.seqs[1:]
	}
}

func (h *handled) last() string {
	if len(h.seqs) == 0 {
		return ""
	}
	return h.seqs[len(h.seqs)-1]
}

// PollStream stands in for Lambda's DynamoDB event source mapping: it reads
// every shard of the stream and calls the handler with batches, retrying from
// a reported SequenceNumber; a batch still failing after the retries goes to
// the on-failure destination (a description of it, as Lambda sends), never
// silently skipped. Each poll asks for a fresh iterator at the last record
// handled (iterators expire after 15 minutes on AWS; moto replaces its shard
// object when a transaction is rolled back, stranding old iterators) and
// checks that record is still the one it handled: if the content under a
// sequence number it has passed changed, it replays from the oldest record it
// remembers and handles every record it has not seen. Replays are harmless:
// delivery ids derive from the record's event id.
func PollStream(ctx context.Context, awsCfg aws.Config, src StreamSource, handle StreamHandler) (*StreamPoller, error) {
	p := &StreamPoller{}
	streams := dynamodbstreams.NewFromConfig(awsCfg)
	dlq := sqs.NewFromConfig(awsCfg)
	arn := src.StreamARN
	shards := map[string]*handled{}
	discover := func() error {
		out, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
		if err != nil {
			return err
		}
		for _, sh := range out.StreamDescription.Shards {
			if shards[aws.ToString(sh.ShardId)] == nil {
				shards[aws.ToString(sh.ShardId)] = &handled{}
			}
		}
		return nil
	}
	if err := discover(); err != nil {
		return nil, err
	}
	read := func(shard string, typ streamtypes.ShardIteratorType, seq string) ([]streamtypes.Record, error) {
		in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn), ShardId: aws.String(shard), ShardIteratorType: typ}
		if seq != "" {
			in.SequenceNumber = aws.String(seq)
		}
		it, err := streams.GetShardIterator(ctx, in)
		if err != nil {
			return nil, err
		}
		out, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(src.BatchSize + 1)})
		if err != nil {
			return nil, err
		}
		return out.Records, nil
	}
	warn := func(err error) {
		if ctx.Err() == nil {
			slog.Warn("stream poller", "error", err.Error())
		}
	}
	go func() {
		for tick := 1; ctx.Err() == nil; tick++ {
			busy, clean := false, true
			for shard, h := range shards {
				var recs []streamtypes.Record
				var err error
				if last := h.last(); last == "" {
					recs, err = read(shard, streamtypes.ShardIteratorTypeTrimHorizon, "")
				} else {
					recs, err = read(shard, streamtypes.ShardIteratorTypeAtSequenceNumber, last)
					if err == nil && (len(recs) == 0 || aws.ToString(recs[0].EventID) != h.ids[last]) {
						// Replay the shard from its start: records seen before are
						// handled again (harmless), and none is missed.
						slog.Warn("stream content changed under a sequence number already handled; replaying the shard", "shard", shard, "sequenceNumber", last)
						*h = handled{}
						clean = false
						recs, err = read(shard, streamtypes.ShardIteratorTypeTrimHorizon, "")
					}
				}
				if err != nil {
					warn(err)
					clean = false
					continue
				}
				var fresh []streamtypes.Record
				for i, r := range recs {
					seq := aws.ToString(r.Dynamodb.SequenceNumber)
					if i > 0 && seq == aws.ToString(recs[i-1].Dynamodb.SequenceNumber) && !p.repeatSeen.Swap(true) {
						// Reads past this point start at the wrong record: the
						// emulator numbered two writes alike (moto_server does
						// under concurrent writes; infra/moto/server.py does not).
						slog.Error("the stream repeats a sequence number; records after it will be replayed again and again", "shard", shard, "sequenceNumber", seq)
					}
					if id, seen := h.ids[seq]; !seen || id != aws.ToString(r.EventID) {
						fresh = append(fresh, r)
					}
				}
				if len(fresh) > int(src.BatchSize) {
					fresh = fresh[:src.BatchSize]
				}
				if len(fresh) == 0 {
					continue
				}
				busy = true
				// Records the template's filter drops are passed over, as Lambda does.
				var passed []streamtypes.Record
				for _, r := range fresh {
					if src.Filter.Passes(streamrouter.EventRecord(src.StreamARN, r)) {
						passed = append(passed, r)
					}
				}
				if len(passed) > 0 && !deliverStreamBatch(ctx, src, passed, handle) {
					if ctx.Err() != nil {
						return
					}
					if err := sendStreamFailure(ctx, dlq, src, shard, passed); err != nil {
						warn(fmt.Errorf("on-failure destination: %w", err))
						clean = false
						continue // not passed: the batch is tried again rather than lost
					}
				}
				for _, r := range fresh {
					h.add(aws.ToString(r.Dynamodb.SequenceNumber), aws.ToString(r.EventID))
				}
			}
			if tick%50 == 0 {
				if err := discover(); err != nil {
					warn(err)
				}
			}
			if !busy {
				if clean {
					p.idleRounds.Add(1)
				}
				sleep(ctx, 100*time.Millisecond)
			}
		}
	}()
	return p, nil
}

// StreamPoller is a running stream poller.
type StreamPoller struct {
	// idleRounds counts rounds that read every shard and found nothing new.
	idleRounds atomic.Int64
	repeatSeen atomic.Bool
}

// CaughtUp waits until the poller has handled every record written before
// the call: a whole round that began after it found nothing new.
func (p *StreamPoller) CaughtUp(ctx context.Context) error {
	// The round running now may have read before the call; the one after it cannot.
	target := p.idleRounds.Load() + 2
	for p.idleRounds.Load() < target {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// deliverStreamBatch calls the handler until the batch succeeds, retrying
// from the first failed record as Lambda does, at most src.Retries times
// (-1: until the records expire, i.e. for ever here). It reports success.
func deliverStreamBatch(ctx context.Context, src StreamSource, recs []streamtypes.Record, handle StreamHandler) bool {
	batch := make([]events.DynamoDBEventRecord, len(recs))
	for i, r := range recs {
		batch[i] = streamrouter.EventRecord(src.StreamARN, r)
	}
	for try := 0; ctx.Err() == nil; try++ {
		resp, err := handle(ctx, events.DynamoDBEvent{Records: batch})
		if err == nil && len(resp.BatchItemFailures) == 0 {
			return true
		}
		if src.Retries >= 0 && try >= src.Retries {
			slog.Error("stream batch failed after its retries; sent to the on-failure destination", "function", src.Function, "records", len(batch))
			return false
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
		sleep(ctx, min(time.Duration(try+1)*200*time.Millisecond, 2*time.Second))
	}
	return false
}

// sendStreamFailure writes what Lambda's on-failure destination receives
// for a stream batch: where the records are, not the records.
func sendStreamFailure(ctx context.Context, q *sqs.Client, src StreamSource, shard string, recs []streamtypes.Record) error {
	if src.OnFailure == "" {
		slog.Error("stream batch dropped: the event source has no on-failure destination", "function", src.Function, "records", len(recs))
		return nil
	}
	first, last := recs[0].Dynamodb, recs[len(recs)-1].Dynamodb
	body, _ := json.Marshal(map[string]any{
		"requestContext": map[string]any{
			"condition": "RetryAttemptsExhausted", "functionArn": "arn:aws:lambda:" + localRegion + ":" + localAccount + ":function:" + src.Function,
			"approximateInvokeCount": src.Retries + 1,
		},
		"DDBStreamBatchInfo": map[string]any{
			"shardId": shard, "startSequenceNumber": aws.ToString(first.SequenceNumber), "endSequenceNumber": aws.ToString(last.SequenceNumber),
			"approximateArrivalOfFirstRecord": aws.ToTime(first.ApproximateCreationDateTime).UTC().Format(time.RFC3339),
			"approximateArrivalOfLastRecord":  aws.ToTime(last.ApproximateCreationDateTime).UTC().Format(time.RFC3339),
			"batchSize":                       len(recs), "streamArn": src.StreamARN,
		},
		"timestamp": time.Now().UTC().Format(time.RFC3339Nano), "version": "1.0",
	})
	_, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(src.OnFailure), MessageBody: aws.String(string(body))})
	return err
}

// PollQueue stands in for Lambda's SQS event source mapping: batches of up to
// ten, and every message the handler did not report as failed is deleted.
func PollQueue(ctx context.Context, awsCfg aws.Config, queueURL, queueARN string, handle QueueHandler) {
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
			out, err := q.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: del})
			switch {
			case err != nil && ctx.Err() == nil:
				slog.Warn("queue poller delete", "error", err.Error())
			case err == nil && len(out.Failed) > 0: // each comes back after its visibility timeout
				slog.Warn("queue poller delete", "failed", len(out.Failed), "code", aws.ToString(out.Failed[0].Code))
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
