package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/uniasset/integrations/shared/devstack"
	"github.com/uniasset/integrations/shared/tenant"
)

// burst runs devstack's burst (the same one make test runs, smaller) at n
// writes and reports exactness, lag and calls per routed record.
func burst(doc *bytes.Buffer, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	stack, stop, err := devstack.StartForTests(ctx, map[string]string{"RETRY_SCHEDULE": "1s,2s", "DELIVERY_TIMEOUT": "10s"})
	if err != nil {
		return err
	}
	defer stop()
	srv := httptest.NewServer(stack.Gateway)
	defer srv.Close()
	start := time.Now()
	motoBefore, selfBefore := cpuTimes(stack)
	r, err := stack.Burst(ctx, srv.URL, n, 8)
	if err != nil {
		return err
	}
	total := time.Since(start)
	motoAfter, selfAfter := cpuTimes(stack)
	motoCPU, selfCPU := motoAfter-motoBefore, selfAfter-selfBefore
	attempts := r.HealthyPosts + r.FlakyPosts*2 + r.Failing // flaky: one 500 then one 200 per delivery
	routed := float64(n - r.Refused)
	per := func(calls map[string]int, op string, by float64) string {
		return fmt.Sprintf("%.2f", float64(calls[op])/by)
	}
	fmt.Fprintf(doc, `
## Burst: %d asset creates, three webhooks

Method: %d creates of assets through the local stack's gateway from 8 concurrent clients (one API
key), with three webhooks of one tenant subscribed to asset.created: healthy (200), flaky (500 on
each delivery's first attempt, 200 on the retry) and failing (always 500). RETRY_SCHEDULE=1s,2s,
so the flaky deliveries retry after about a second and the failing ones give up after three
attempts. The run ends when the stream poller has handled every change and no delivery is
pending. Everything runs with IAM enforced, on this 2-core machine, against moto. The same test,
at 100 creates, is in make test (TestBurstDeliversExactly).

| what | figure |
|---|---:|
| creates answered 201 | %d of %d |
| healthy receiver: distinct deliveries / POSTs answered 2xx | %d / %d |
| flaky receiver: distinct deliveries accepted / 2xx answers | %d / %d |
| failing receiver: deliveries ended failed / POSTs | %d / %d |
| deliveries still pending at the end | %d |
| DeliveryDLQ / StreamDLQ messages | %d / %d |
| writes (first sent to last answered) | %s |
| last write's answer to the healthy receiver's last delivery | %s |
| last write's answer to the flaky receiver's last delivery | %s |
| whole run, to the last failed attempt | %s |
| processor time: moto / the stack (handlers, pollers, gateway, receivers, clients) | %s / %s |

Calls per routed record (StreamRouterFunction, %d records, 3 webhooks each): DynamoDB.Query
%s (one webhook list per tenant per batch), DynamoDB.PutItem %s (one conditional delivery
record per webhook), SQS.SendMessageBatch %s (ten messages per call, across records). Reading
the stream (GetShardIterator/GetRecords) is the event source mapping's work, not the function's,
and is left out. DispatcherFunction, per delivery attempt (%d attempts): DynamoDB.BatchGetItem
%s (record and webhook), DynamoDB.UpdateItem %s (claim and result, plus health changes),
SQS.ChangeMessageVisibility %s (retries held in flight), SQS.DeleteMessageBatch %s.

Where the time goes: moto is the bottleneck (compare the two processor times above). moto serves every call from one Python process (a thread per connection,
one interpreter lock), at a few hundred simple calls a second on this machine, and a create
costs about 5 calls, a delivery attempt about 3.5. Profiled with a sampling profiler in moto's
process, most of a call is moto's request parsing, expression evaluation and response
serialization, not the stack's work. infra/moto/server.py removed three costs that grew with the
data (a whole-table copy per transaction item, a quadratic ReceiveMessage, a repeated directory
listing) and two races that lost stream records and hid received messages for six minutes; see
its header. On DynamoDB and SQS the same calls take a few milliseconds each and Lambda scales the
pipeline out.
`, n, n, n-r.Refused, n, r.Healthy, r.HealthyPosts, r.Flaky, r.FlakyPosts, r.FailingRecords, r.Failing, r.Pending,
		r.DLQ["DeliveryDLQ"], r.DLQ["StreamDLQ"], r.WriteTime.Round(100*time.Millisecond), r.HealthyLag.Round(100*time.Millisecond),
		r.FlakyLag.Round(100*time.Millisecond), total.Round(time.Second), motoCPU.Round(time.Second), selfCPU.Round(time.Second), n-r.Refused,
		per(r.RouterCalls, "DynamoDB.Query", routed), per(r.RouterCalls, "DynamoDB.PutItem", routed), per(r.RouterCalls, "SQS.SendMessageBatch", routed),
		attempts, per(r.DispatcherCalls, "DynamoDB.BatchGetItem", float64(attempts)), per(r.DispatcherCalls, "DynamoDB.UpdateItem", float64(attempts)),
		per(r.DispatcherCalls, "SQS.ChangeMessageVisibility", float64(attempts)), per(r.DispatcherCalls, "SQS.DeleteMessageBatch", float64(attempts)))
	fmt.Printf("burst: %+v\n", r)
	return nil
}

// inflight simulates one tenant's dead endpoint while another tenant keeps
// writing: deliveries pile up, and the queue's in-flight count and the other
// tenant's latency are sampled, with retries parked (RETRY_HOLD_MAX 1m, the
// default) and with every retry held in flight (the old behaviour).
func inflight(doc *bytes.Buffer, n int) error {
	type outcome struct {
		maxInFlight, maxDelayed int
		latencies               []time.Duration
	}
	runOnce := func(hold string) (outcome, error) {
		var o outcome
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		stack, stop, err := devstack.StartForTests(ctx, map[string]string{"RETRY_SCHEDULE": "2s,10m,10m", "RETRY_HOLD_MAX": hold})
		if err != nil {
			return o, err
		}
		defer stop()
		srv := httptest.NewServer(stack.Gateway)
		defer srv.Close()
		down := devstack.NewReceiver(func(int) int { return http.StatusServiceUnavailable })
		defer down.Close()
		up := devstack.NewReceiver(func(int) int { return http.StatusOK })
		defer up.Close()
		_, outageKey, err := benchTenant(ctx, stack, srv.URL, "outage", down.URL)
		if err != nil {
			return o, err
		}
		_, otherKey, err := benchTenant(ctx, stack, srv.URL, "other", up.URL)
		if err != nil {
			return o, err
		}
		sampling, stopSampling := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() {
			for sampling.Err() == nil {
				_, inFlight, delayed, err := stack.QueueCounts(ctx, "DeliveryQueue")
				if err == nil {
					o.maxInFlight, o.maxDelayed = max(o.maxInFlight, inFlight), max(o.maxDelayed, delayed)
				}
				select {
				case <-sampling.Done():
				case <-time.After(500 * time.Millisecond):
				}
			}
		})
		// The outage: n creates whose deliveries fail, retry after 2 s, fail again
		// and then wait ten minutes.
		wg.Go(func() {
			for i := range n {
				_ = createBenchAsset(ctx, srv.URL, outageKey, i)
			}
		})
		// Meanwhile the other tenant writes one asset at a time and times its delivery.
		for i := range 30 {
			before := len(up.Posts())
			t0 := time.Now()
			if err := createBenchAsset(ctx, srv.URL, otherKey, i); err != nil {
				stopSampling()
				return o, err
			}
			for len(up.Posts()) == before && ctx.Err() == nil {
				time.Sleep(5 * time.Millisecond)
			}
			o.latencies = append(o.latencies, time.Since(t0))
			time.Sleep(500 * time.Millisecond)
		}
		// Let the outage's second attempts happen, then sample a little longer.
		for ctx.Err() == nil {
			if len(down.Posts()) >= 2*n {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(3 * time.Second)
		stopSampling()
		wg.Wait()
		return o, ctx.Err()
	}
	parked, err := runOnce("1m")
	if err != nil {
		return err
	}
	held, err := runOnce("12h")
	if err != nil {
		return err
	}
	pct := func(v []time.Duration, p float64) time.Duration {
		s := slices.Clone(v)
		slices.Sort(s)
		return s[min(len(s)-1, int(float64(len(s))*p))].Round(time.Millisecond)
	}
	fmt.Fprintf(doc, `
## One tenant's outage: in-flight messages and another tenant's latency

Method: tenant A's only webhook answers 503. %d assets of A are created through the gateway;
each delivery fails, is retried after 2 s, fails again and must then wait 10 minutes
(RETRY_SCHEDULE=2s,10m,10m). Meanwhile tenant B (a healthy receiver) creates 30 assets one at a
time, 0.5 s apart, each timed from its write until its webhook arrives. DeliveryQueue's
ApproximateNumberOfMessagesNotVisible (in flight) and ...Delayed are sampled every 0.5 s. Run
twice: with RETRY_HOLD_MAX=1m (the default: a wait longer than a minute leaves the in-flight
set as a delayed message) and with RETRY_HOLD_MAX=12h (every wait held in flight, as before this
change). A standard queue refuses receives once about 120,000 messages are in flight, which
would stall every tenant: in flight must not grow with a tenant's outage.

| RETRY_HOLD_MAX | max in flight | max delayed | B's latency p50 | p95 | max |
|---|---:|---:|---:|---:|---:|
| 1m (default) | %d | %d | %s | %s | %s |
| 12h (all held) | %d | %d | %s | %s | %s |

With parking, in flight is bounded by the deliveries being attempted or waiting a short retry
(here at most %d: those between their first attempt and the 2-second retry), not by the size of
the outage; the 10-minute waits sit in the queue as delayed messages, re-delayed every 15 minutes
until due. B's latency is about the same either way here because 300 in-flight messages are far
from SQS's quota; it is the quota, not the latency, that an outage of a large tenant would
exhaust when every retry is held. B's latency is moto's (see the burst above).
`, n, parked.maxInFlight, parked.maxDelayed, pct(parked.latencies, .5), pct(parked.latencies, .95), pct(parked.latencies, 1),
		held.maxInFlight, held.maxDelayed, pct(held.latencies, .5), pct(held.latencies, .95), pct(held.latencies, 1), parked.maxInFlight)
	fmt.Printf("inflight: parked %+v held %+v\n", parked, held)
	return nil
}

// benchTenant makes an Enterprise tenant with one webhook to url and an API key.
func benchTenant(ctx context.Context, stack *devstack.Stack, base, name, url string) (string, string, error) {
	id := fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
	if err := (&tenant.Store{DB: stack.DB, Table: stack.IntegrationsTable}).Put(ctx, tenant.Profile{TenantID: id, Name: name, Plan: tenant.Enterprise}); err != nil {
		return "", "", err
	}
	owner, err := stack.Issuer.Token(id, "Owner", "bench", time.Hour)
	if err != nil {
		return "", "", err
	}
	if _, err := postJSON(ctx, base+"/api/integrations/webhooks", owner, fmt.Sprintf(`{"name":%q,"url":%q,"events":["asset.created"]}`, name, url), 201); err != nil {
		return "", "", err
	}
	body, err := postJSON(ctx, base+"/api/integrations/api-keys", owner, `{"name":"bench","permissions":["asset:create"]}`, 201)
	if err != nil {
		return "", "", err
	}
	_, rest, _ := strings.Cut(body, `"key":"`)
	key, _, _ := strings.Cut(rest, `"`)
	return id, key, nil
}

func createBenchAsset(ctx context.Context, base, key string, i int) error {
	_, err := postJSON(ctx, base+"/api/integrations/assets/create", key, fmt.Sprintf(`{"name":"Asset %d","categoryName":"IoT","statusName":"ACTIVE"}`, i), 201)
	return err
}

func postJSON(ctx context.Context, url, bearer, body string, want int) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	if resp.StatusCode != want {
		return b.String(), fmt.Errorf("POST %s: %d %s", url, resp.StatusCode, b.String())
	}
	return b.String(), nil
}

// cpuTimes reports the processor time used so far by moto's process (0 if
// the stack did not start it) and by this one.
func cpuTimes(stack *devstack.Stack) (moto, self time.Duration) {
	if stack.Moto != nil {
		moto, _ = stack.Moto.CPUTime()
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return moto, self
}
