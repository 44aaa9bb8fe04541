package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/uniasset/integrations/shared/devstack"
	"github.com/uniasset/integrations/shared/entra"
	"github.com/uniasset/integrations/shared/msgraph/msgraphfake"
	"github.com/uniasset/integrations/shared/tenant"
)

// An SQS batch whose invocation times out is failed whole, as on Lambda:
// no message is deleted, even though the handler later reports them all
// handled; each comes back after its visibility timeout.
func TestQueueBatchTimedOutLeavesEveryMessage(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q := sqs.NewFromConfig(stack.AWS)
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("timeout-test-%d", time.Now().UnixNano())),
		Attributes: map[string]string{"VisibilityTimeout": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	sent := map[string]bool{}
	for i := range 3 {
		m, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: out.QueueUrl, MessageBody: aws.String(fmt.Sprint("m", i))})
		if err != nil {
			t.Fatal(err)
		}
		sent[aws.ToString(m.MessageId)] = true
	}
	var mu sync.Mutex
	seen := map[string]int{}
	back := make(chan struct{})
	// A message's first batch outlives the Timeout, then claims success.
	h := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		mu.Lock()
		first, again := false, 0
		for _, r := range ev.Records {
			seen[r.MessageId]++
			first = first || seen[r.MessageId] == 1
		}
		for id := range sent {
			if seen[id] >= 2 {
				again++
			}
		}
		if again == len(sent) {
			select {
			case <-back:
			default:
				close(back)
			}
		}
		mu.Unlock()
		if first {
			select { // the Timeout ends it; without one it claims success after 3 s
			case <-ctx.Done():
			case <-time.After(3 * time.Second):
			}
		}
		return events.SQSEventResponse{}, nil
	}
	pollCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		devstack.PollQueue(pollCtx, stack.AWS, aws.ToString(out.QueueUrl), "arn:aws:sqs:local:000000000000:timeout-test", devstack.Timed("TestFunction", 300*time.Millisecond, h))
	}()
	defer func() { stop(); <-done }()
	select {
	case <-back:
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("messages deleted after a timed-out batch: deliveries %v", seen)
	}
}

// getWithin is a browser's GET of a callback that gives up after limit:
// the status, the body, and how long it took.
func getWithin(t *testing.T, loc string, limit time.Duration) (int, map[string]any, time.Duration) {
	t.Helper()
	c := &http.Client{Timeout: limit, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	start := time.Now()
	resp, err := c.Get(loc)
	if err != nil {
		t.Fatalf("the callback did not answer within %v: %v", limit, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("%d %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, body, time.Since(start)
}

// Whatever Microsoft does during the callback (its token endpoint or Graph
// hangs, or Graph throttles with a long Retry-After), the callback ends
// with its documented outcome and a System entry inside AdminApiFunction's
// template Timeout, which the local stack applies.
func TestEntraCallbackEndsWithinTimeoutWhenMicrosoftFails(t *testing.T) {
	limit := stack.Template.Timeout("AdminApiFunction")
	if limit != 20*time.Second {
		t.Fatalf("AdminApiFunction's Timeout is %v; the template says 20 s", limit)
	}
	tid := newTenant(t, tenant.Enterprise)
	d := newDirectory(t, 2)
	microsoft := stack.Microsoft
	defer microsoft.Hang()
	defer microsoft.ThrottleFor(0, 1)
	for _, c := range []struct {
		name  string
		step  func(*testing.T) string // the browser's way to the callback, Microsoft still well
		fault func()
		hit   func() int // requests that met the fault
	}{
		{"token endpoint hangs at the sign-in", func(t *testing.T) string { return signIn(t, tid, d, "", false, func(u string) string { return u }) },
			func() { microsoft.Hang(msgraphfake.TokenEndpoint) }, microsoft.Hung},
		{"token endpoint hangs at the consent", func(t *testing.T) string { return consent(t, tid, d, false) },
			func() { microsoft.Hang(msgraphfake.TokenEndpoint) }, microsoft.Hung},
		{"Graph hangs", func(t *testing.T) string { return consent(t, tid, d, false) },
			func() { microsoft.Hang(msgraphfake.GraphAPI) }, microsoft.Hung},
		{"Graph answers 429 with Retry-After 30", func(t *testing.T) string { return consent(t, tid, d, false) },
			func() { microsoft.ThrottleFor(1000, 30) }, microsoft.Reads},
	} {
		t.Run(c.name, func(t *testing.T) {
			loc := c.step(t)
			before, entries := c.hit(), len(systemEntries(t, tid))
			c.fault()
			status, body, took := getWithin(t, loc, 3*limit)
			microsoft.Hang()
			microsoft.ThrottleFor(0, 1)
			t.Logf("%d %v after %v", status, body, took.Round(10*time.Millisecond))
			if c.hit() == before {
				t.Fatal("the callback never met the fault")
			}
			if status != http.StatusBadGateway || body["outcome"] != entra.OutcomeUnavailable {
				t.Fatalf("%d %v, want 502 %s", status, body, entra.OutcomeUnavailable)
			}
			if took >= limit {
				t.Fatalf("answered after %v, past the function's %v", took, limit)
			}
			es := systemEntries(t, tid)
			if len(es) != entries+1 || es[0]["event"] != "entra.connect_failed" || es[0]["status"] != entra.OutcomeUnavailable ||
				!strings.Contains(fmt.Sprint(es[0]["details"]), "start the connect again") {
				t.Fatalf("system entries %v", es)
			}
		})
	}
	// Microsoft is back: the next connect goes through.
	if status, outcome := callback(t, consent(t, tid, d, false)); status != http.StatusOK || outcome != entra.OutcomeConnected {
		t.Fatalf("after the faults: %d %s", status, outcome)
	}
}
