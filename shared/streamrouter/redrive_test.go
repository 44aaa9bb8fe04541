package streamrouter

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// fakeDLQ holds messages until they are deleted.
type fakeDLQ struct{ bodies map[string]string }

func (q *fakeDLQ) ReceiveMessage(_ context.Context, _ *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	out := &sqs.ReceiveMessageOutput{}
	for h, b := range q.bodies {
		out.Messages = append(out.Messages, sqstypes.Message{MessageId: aws.String(h), ReceiptHandle: aws.String(h), Body: aws.String(b)})
	}
	return out, nil
}

func (q *fakeDLQ) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	delete(q.bodies, aws.ToString(in.ReceiptHandle))
	return &sqs.DeleteMessageOutput{}, nil
}

// fakeStream is one shard of records, or an error for every read.
type fakeStream struct {
	recs       []streamtypes.Record
	err        error
	emptyFirst bool // answer an empty page before the first records, as DynamoDB Streams may
	gaveEmpty  bool
}

func (s *fakeStream) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	if s.err != nil {
		return nil, s.err
	}
	for i, r := range s.recs {
		if aws.ToString(r.Dynamodb.SequenceNumber) == aws.ToString(in.SequenceNumber) {
			return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(string(rune('0' + i)))}, nil
		}
	}
	return nil, &streamtypes.TrimmedDataAccessException{}
}

func (s *fakeStream) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	from := int(aws.ToString(in.ShardIterator)[0] - '0')
	if s.emptyFirst && !s.gaveEmpty {
		s.gaveEmpty = true
		return &dynamodbstreams.GetRecordsOutput{NextShardIterator: in.ShardIterator}, nil
	}
	if from >= len(s.recs) {
		return &dynamodbstreams.GetRecordsOutput{NextShardIterator: in.ShardIterator}, nil
	}
	// Two records a page, so a batch spans pages.
	to := min(from+2, len(s.recs))
	return &dynamodbstreams.GetRecordsOutput{Records: s.recs[from:to], NextShardIterator: aws.String(string(rune('0' + to)))}, nil
}

func streamRecord(seq, sk string) streamtypes.Record {
	return streamtypes.Record{EventID: aws.String("ev" + seq), EventName: streamtypes.OperationTypeInsert, Dynamodb: &streamtypes.StreamRecord{
		SequenceNumber: aws.String(seq), Keys: map[string]streamtypes.AttributeValue{"SK": &streamtypes.AttributeValueMemberS{Value: sk}},
	}}
}

func failure(start, end string) string {
	return `{"DDBStreamBatchInfo":{"shardId":"shard-1","startSequenceNumber":"` + start + `","endSequenceNumber":"` + end + `","streamArn":"arn:stream"}}`
}

// A redrive routes exactly the batch's records (across pages, as the
// template's filter passes them), drops a batch the stream no longer holds
// and a malformed message, and keeps a batch that fails again.
func TestRedrive(t *testing.T) {
	stream := &fakeStream{recs: []streamtypes.Record{
		streamRecord("100", "ASSET"), streamRecord("200", "ASSET"), streamRecord("300", "EXTERNALID#x"),
		streamRecord("400", "MAINT#1"), streamRecord("1000", "ASSET"),
	}}
	var routed []string
	fail := false
	dlq := &fakeDLQ{bodies: map[string]string{"batch": failure("200", "400"), "trimmed": failure("50", "60"), "junk": `{"x":1}`}}
	r := &Redrive{SQS: dlq, URL: "dlq", Streams: stream, Route: func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		if fail {
			return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: ev.Records[0].Change.SequenceNumber}}}, nil
		}
		for _, rec := range ev.Records {
			routed = append(routed, rec.Change.SequenceNumber)
		}
		return events.DynamoDBEventResponse{}, nil
	}}
	n, err := r.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != (Redriven{Batches: 1, Records: 2, Lost: 1, Malformed: 1}) || len(dlq.bodies) != 0 {
		t.Fatalf("swept %+v, left %v", n, dlq.bodies)
	}
	if len(routed) != 2 || routed[0] != "200" || routed[1] != "400" {
		t.Fatalf("routed %v; want 200 and 400 (300 is not an item the router takes, 1000 is past the batch)", routed)
	}

	// A batch failing again stays, and holds up no other batch.
	fail = true
	dlq.bodies["again"] = failure("100", "100")
	dlq.bodies["junk2"] = `{}`
	if n, err := r.Sweep(context.Background()); err == nil || n.Failed != 1 || n.Malformed != 1 || len(dlq.bodies) != 1 || dlq.bodies["again"] == "" {
		t.Fatalf("a batch failing again: %+v, %v, left %v", n, err, dlq.bodies)
	}
	fail = false

	// An empty page before the records is not the end of the batch.
	stream.emptyFirst = true
	routed = nil
	dlq.bodies = map[string]string{"late": failure("200", "400")}
	if n, err := r.Sweep(context.Background()); err != nil || n.Batches != 1 || len(routed) != 2 {
		t.Fatalf("after an empty page: %+v, %v, routed %v", n, err, routed)
	}
	stream.emptyFirst = false
	// A batch whose end the stream never reaches is kept, not half routed.
	dlq.bodies = map[string]string{"short": failure("200", "1500")}
	if n, err := r.Sweep(context.Background()); err == nil || n.Failed != 1 || len(dlq.bodies) != 1 {
		t.Fatalf("a batch past the shard's end: %+v, %v", n, err)
	}
	dlq.bodies = map[string]string{"again": failure("100", "100")}
	fail = true
	stream.err = &streamtypes.ResourceNotFoundException{}
	if n, err := r.Sweep(context.Background()); err != nil || n.Lost != 1 || len(dlq.bodies) != 0 {
		t.Fatalf("a shard gone: %+v, %v", n, err)
	}
	stream.err = errors.New("throttled")
	dlq.bodies["later"] = failure("100", "100")
	if _, err := r.Sweep(context.Background()); err == nil || len(dlq.bodies) != 1 {
		t.Fatalf("a read error must keep the message: %v", err)
	}
}
