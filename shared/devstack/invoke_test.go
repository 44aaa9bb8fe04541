package devstack

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/uniasset/integrations/shared/httpapi"
)

// Each function's Timeout is its own, else Globals', else Lambda's 3 s,
// and the gateway's routes carry it.
func TestTemplateTimeouts(t *testing.T) {
	tmpl, err := LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{
		"IntegrationApiFunction": 10 * time.Second, // Globals
		"AdminApiFunction":       20 * time.Second, // a verification challenge has 10 s
		"StreamRouterFunction":   60 * time.Second, "DispatcherFunction": 60 * time.Second,
		"ExpiryAlertsFunction": 300 * time.Second, "EntraSyncFunction": 900 * time.Second,
	}
	for fn, d := range want {
		if got := tmpl.Timeout(fn); got != d {
			t.Errorf("%s: Timeout %v, want %v", fn, got, d)
		}
	}
	for _, r := range tmpl.Routes() {
		if r.Timeout != want[r.Function] {
			t.Errorf("route %s %s: Timeout %v, want %v", r.Method, r.Path, r.Timeout, want[r.Function])
		}
	}
	bare := &Template{Resources: map[string]Resource{"F": {Type: "AWS::Serverless::Function"}}}
	if got := bare.Timeout("F"); got != 3*time.Second {
		t.Errorf("no Timeout anywhere: %v, want Lambda's 3s", got)
	}
}

// outlive returns once ctx ends, or after 5 s if nothing ends it (a run
// without a deadline then goes on to answer late, and the test fails).
func outlive(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
	}
}

// stuck is a handler that runs past any deadline: it notes its context's
// deadline, waits for its context to end, then answers 200 anyway (late).
type stuck struct {
	deadline chan time.Time
	returned chan struct{}
}

func newStuck() *stuck {
	return &stuck{deadline: make(chan time.Time, 1), returned: make(chan struct{})}
}

func (s *stuck) handle(ctx context.Context, _ events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	dl, _ := ctx.Deadline()
	s.deadline <- dl
	outlive(ctx)
	defer close(s.returned)
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Body: "late"}, nil
}

// A function past its Timeout fails as on Lambda: the gateway answers the
// function error at the deadline (HTTP API: 500), not the handler's late
// 200; a function the integration timeout ends first gets 503.
func TestGatewayAppliesTimeout(t *testing.T) {
	t.Parallel()
	slow, slower := newStuck(), newStuck()
	routes := []Route{
		{Function: "Slow", Method: "GET", Path: "/slow", Timeout: 300 * time.Millisecond},
		{Function: "Slower", Method: "GET", Path: "/slower", Timeout: 60 * time.Second},
	}
	g, err := NewGateway(routes, map[string]httpapi.LambdaHandler{"Slow": slow.handle, "Slower": slower.handle}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.IntegrationTimeout = 400 * time.Millisecond // HTTP API's 30 s, sooner
	for _, c := range []struct {
		path   string
		h      *stuck
		limit  time.Duration
		status int
		body   string
	}{
		{"/slow", slow, 300 * time.Millisecond, http.StatusInternalServerError, `{"message":"Internal Server Error"}`},
		{"/slower", slower, 400 * time.Millisecond, http.StatusServiceUnavailable, `{"message":"Service Unavailable"}`},
	} {
		w := httptest.NewRecorder()
		start := time.Now()
		g.ServeHTTP(w, httptest.NewRequest("GET", c.path, nil))
		took := time.Since(start)
		if w.Code != c.status || w.Body.String() != c.body {
			t.Fatalf("%s: %d %s, want %d %s", c.path, w.Code, w.Body, c.status, c.body)
		}
		if dl := <-c.h.deadline; dl.Before(start.Add(c.limit)) || dl.After(start.Add(took)) {
			t.Fatalf("%s: the handler's deadline is %v after the request, want %v", c.path, dl.Sub(start), c.limit)
		}
		if took < c.limit || took > c.limit+2*time.Second {
			t.Fatalf("%s: answered after %v, want at %v", c.path, took, c.limit)
		}
		<-c.h.returned // the late 200 came back and was dropped
		if w.Code != c.status || w.Body.String() != c.body {
			t.Fatalf("%s: the late answer was written: %d %s", c.path, w.Code, w.Body)
		}
	}
}

// A stream batch whose invocation times out is a function error: the batch
// is tried again (not passed as handled), or, past its retries, failed.
func TestStreamBatchTimedOutIsRetried(t *testing.T) {
	t.Parallel()
	recs := []streamtypes.Record{{EventID: aws.String("e1"), Dynamodb: &streamtypes.StreamRecord{SequenceNumber: aws.String("1")}}}
	var calls atomic.Int32
	// The first call outlives its Timeout and then reports success.
	h := func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		if calls.Add(1) == 1 {
			outlive(ctx)
		}
		return events.DynamoDBEventResponse{}, nil
	}
	handle := Timed("StreamRouterFunction", 200*time.Millisecond, h)
	if !deliverStreamBatch(context.Background(), StreamSource{Function: "StreamRouterFunction", Retries: -1}, recs, handle) || calls.Load() != 2 {
		t.Fatalf("retried: %d calls, want 2 (a timed-out batch is not handled)", calls.Load())
	}
	calls.Store(0)
	if deliverStreamBatch(context.Background(), StreamSource{Function: "StreamRouterFunction", Retries: 0}, recs, handle) || calls.Load() != 1 {
		t.Fatalf("no retries: %d calls; a timed-out batch must go to the on-failure destination", calls.Load())
	}
}
