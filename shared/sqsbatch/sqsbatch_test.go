package sqsbatch

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// refusing refuses entry "0" of the first `refuse` calls and records every
// call's bodies.
type refusing struct {
	refuse int
	calls  [][]string
}

func (r *refusing) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	var bodies []string
	for _, e := range in.Entries {
		bodies = append(bodies, aws.ToString(e.MessageBody))
		if e.DelaySeconds != 30 {
			return nil, context.Canceled
		}
	}
	r.calls = append(r.calls, bodies)
	out := &sqs.SendMessageBatchOutput{}
	if len(r.calls) <= r.refuse {
		out.Failed = []sqstypes.BatchResultErrorEntry{{Id: aws.String("0"), Message: aws.String("throttled")}}
	}
	return out, nil
}

// Ten a call, with the delay; a refused entry is sent again, alone.
func TestSendBatchesAndResendsRefused(t *testing.T) {
	api := &refusing{refuse: 1}
	msgs := make([]int, 12)
	for i := range msgs {
		msgs[i] = i
	}
	if err := Send(context.Background(), api, "q", "queue", msgs, 30*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, c := range api.calls {
		sizes = append(sizes, len(c))
	}
	if len(sizes) != 3 || sizes[0] != 10 || sizes[1] != 1 || api.calls[1][0] != "0" || sizes[2] != 2 {
		t.Fatalf("calls %v", api.calls)
	}
	// Refused three times: an error naming the work.
	err := Send(context.Background(), &refusing{refuse: 3}, "q", "queue things", msgs[:1], 30*time.Second, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "queue things: 1 entries refused") {
		t.Fatalf("refused three times: %v", err)
	}
}
