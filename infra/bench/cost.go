package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/uniasset/integrations/shared/cost"
	"github.com/uniasset/integrations/shared/devstack"
)

// bill is what one scenario consumed, per event.
type bill struct {
	wru, rru, sqs float64
	invocations   float64
	gbSeconds     float64
	apiRequests   float64
	schedules     float64 // EventBridge Scheduler invocations
	byFunction    map[string]devstack.FunctionUsage
	byCall        map[string]cost.Part // DynamoDB units and calls by operation and table, per event
}

func (b bill) dynamo() float64 { return b.wru*cost.Price.WRU + b.rru*cost.Price.RRU }
func (b bill) queues() float64 { return b.sqs * cost.Price.SQSRequest }
func (b bill) lambda() float64 {
	return b.invocations*cost.Price.LambdaRequest + b.gbSeconds*cost.Price.LambdaGBSecond
}
func (b bill) gateway() float64 {
	return b.apiRequests*cost.Price.HTTPAPIRequest + b.schedules*cost.Price.SchedulerInvocation
}
func (b bill) total() float64 { return b.dynamo() + b.queues() + b.lambda() + b.gateway() }

// ran adds an invocation the bench made itself (a scheduled function's run)
// to b, for n events: Lambda's part at fn's memory, and its schedule's.
func (b *bill) ran(m meters, fn string, u devstack.FunctionUsage, n int) {
	if b.byFunction == nil {
		b.byFunction = map[string]devstack.FunctionUsage{}
	}
	f := b.byFunction[fn]
	f.Invocations += u.Invocations
	f.Took += u.Took
	f.CPU += u.CPU
	b.byFunction[fn] = f
	b.invocations += float64(u.Invocations) / float64(n)
	b.gbSeconds += u.Took.Seconds() * float64(m.stack.Template.Memory(fn)) / 1024 / float64(n)
}

// meters are the cost bench's counters on every function of the stack.
type meters struct {
	stack  *devstack.Stack
	db     *cost.Meter
	queues *cost.Queues
}

// take is what the functions consumed since the last take, divided by n events.
func (m meters) take(n int, apiRequests int) bill {
	t := m.db.Take()
	req, _ := m.queues.Take() // empty receives: an idle poller's, not an event's
	b := bill{wru: t.WRU / float64(n), rru: t.RRU / float64(n), sqs: float64(req) / float64(n),
		apiRequests: float64(apiRequests) / float64(n), byFunction: m.stack.Usage.Take(), byCall: map[string]cost.Part{}}
	for call, p := range t.By {
		call = localPrefix.ReplaceAllString(call, "")
		q := b.byCall[call]
		q.Calls += p.Calls
		q.WRU += p.WRU / float64(n)
		q.RRU += p.RRU / float64(n)
		b.byCall[call] = q
	}
	for fn, u := range b.byFunction {
		b.invocations += float64(u.Invocations) / float64(n)
		b.gbSeconds += u.Took.Seconds() * float64(m.stack.Template.Memory(fn)) / 1024 / float64(n)
	}
	return b
}

// costs measures what AWS bills per event for the product's paths, through
// the real handlers against moto with IAM enforced, one event at a time:
// DynamoDB request units as DynamoDB computes them (cost.Meter on every
// function's client), SQS requests by 64 KB chunk (the event source
// mappings' receives and deletes included; empty receives apart), Lambda
// invocations and duration times each function's memory, HTTP API requests.
func costs(doc *bytes.Buffer, events int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	m := meters{db: &cost.Meter{}, queues: &cost.Queues{}}
	// Production's attempts (8) and timeout (10 s), the retries' waits
	// shortened: a wait costs nothing, an attempt is billed the same.
	stack, stop, err := devstack.StartMetered(ctx, map[string]string{"BCRYPT_COST": "10", "DELIVERY_TIMEOUT": "10s",
		"RETRY_SCHEDULE": "1s,1s,1s,1s,1s,1s,1s"}, m.db.Add, m.queues.Add)
	if err != nil {
		return err
	}
	defer stop()
	m.stack = stack
	m.db.Peek(stack.DB)
	api := httptest.NewServer(stack.Gateway)
	defer api.Close()
	var received atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		defer received.Add(1)
		switch r.URL.Path {
		case "/fail":
			w.WriteHeader(http.StatusInternalServerError)
		case "/slow":
			time.Sleep(9 * time.Second)
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer receiver.Close()

	tok, err := stack.Issuer.Token("demo-enterprise", "Owner", "bench", time.Hour)
	if err != nil {
		return err
	}
	admin := func(method, path, body string) (map[string]any, error) {
		req, _ := http.NewRequest(method, api.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var v map[string]any
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 || json.Unmarshal(raw, &v) != nil {
			return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		return v, nil
	}
	created, err := admin("POST", "/api/integrations/api-keys", `{"name":"cost bench","permissions":["asset:create"]}`)
	if err != nil {
		return err
	}
	key, _ := created["key"].(string)
	var hooks []string
	// subscribe replaces the webhooks with n whose receiver answers as path
	// says, subscribed to event.
	subscribe := func(n int, path, event string) error {
		for _, id := range hooks {
			req, _ := http.NewRequest("DELETE", api.URL+"/api/integrations/webhooks/"+id, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
		}
		hooks = nil
		for len(hooks) < n {
			w, err := admin("POST", "/api/integrations/webhooks", fmt.Sprintf(`{"name":"cost %d","url":%q,"events":[%q]}`, len(hooks), receiver.URL+path, event))
			if err != nil {
				return err
			}
			hooks = append(hooks, w["id"].(string))
		}
		return nil
	}
	// settled waits until every event so far reached the receiver and the
	// pipeline is at rest: the stream read to its end, no delivery message
	// left or in flight.
	settled := func(want int64) error {
		for {
			visible, inFlight, delayed, err := stack.QueueCounts(ctx, "DeliveryQueue")
			if err != nil {
				return err
			}
			if received.Load() >= want && visible+inFlight+delayed == 0 {
				if err := stack.StreamCaughtUp(ctx); err != nil {
					return err
				}
				if v, f, d, _ := stack.QueueCounts(ctx, "DeliveryQueue"); v+f+d == 0 {
					return nil
				}
			}
			if ctx.Err() != nil {
				return fmt.Errorf("%d of %d deliveries arrived", received.Load(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	create := func(i int, payload string) error {
		req, _ := http.NewRequest("POST", api.URL+"/api/integrations/assets/create", strings.NewReader(payload))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("create %d: %d", i, resp.StatusCode)
		}
		return nil
	}
	// body is an asset create of about size bytes (its description fills it).
	body := func(i, size int) string {
		b := fmt.Sprintf(`{"name":"Cost %d","categoryName":"Vehicles","statusName":"ACTIVE","serialNumber":"SN-%d","description":"`, i, i)
		return b + strings.Repeat("d", max(1, size-len(b)-2)) + `"}`
	}

	// What the process uses at rest (its pollers), to tell the functions' own processor time.
	rest, _ := devstack.Measure(func() error { time.Sleep(2 * time.Second); return nil })
	idle := rest.CPU.Seconds() / rest.Took.Seconds()
	var rows []costRow
	var sizes rowSizes
	for i, sc := range []struct {
		name     string
		webhooks int
		size     int
		path     string // the receiver: /fail answers 500, /slow answers after 9 s
		attempts int    // POSTs per delivery
		events   int
	}{
		{scenarioOne, 1, 512, "/hook", 1, events},
		// The largest asset there is: a description of 2,000 characters,
		// the most the API takes (no event of the product reaches 16 KB).
		{"an asset write, one webhook (largest asset, 2.1 KB)", 1, 2100, "/hook", 1, events},
		{scenarioFive, 5, 512, "/hook", 1, events},
		{scenarioFailing, 1, 512, "/fail", 8, max(events/6, 3)},
		{scenarioSlow, 1, 512, "/slow", 1, max(events/6, 3)},
	} {
		if err := subscribe(sc.webhooks, sc.path, "asset.created"); err != nil {
			return err
		}
		per := int64(sc.webhooks * sc.attempts)
		// Warm: each function's cold start, caches and first lastUsedAt are not per event.
		received.Store(0)
		for i := range 2 {
			if err := create(i, body(i, sc.size)); err != nil {
				return err
			}
		}
		if err := settled(2 * per); err != nil {
			return err
		}
		received.Store(0)
		m.take(1, 0)
		var write, pipeline []bill
		for i := range sc.events {
			if err := create(i, body(i, sc.size)); err != nil {
				return err
			}
			write = append(write, m.take(1, 1))
			if err := settled(int64(i+1) * per); err != nil {
				return err
			}
			if got := received.Load(); got != int64(i+1)*per {
				return fmt.Errorf("%s: %d POSTs for %d events", sc.name, got, i+1)
			}
			pipeline = append(pipeline, m.take(1, 0))
		}
		received.Store(0)
		rows = append(rows, costRow{sc.name, "API write", mean(write), sc.events}, costRow{sc.name, "event", mean(pipeline), sc.events})
		fmt.Printf("  %s: write $%.2f, event $%.2f per million\n", sc.name, rows[len(rows)-2].b.total()*1e6, rows[len(rows)-1].b.total()*1e6)
		if i == 0 {
			var err error
			if sizes, err = measureRows(ctx, stack); err != nil {
				return err
			}
		}
	}

	// At volume: a burst from 8 clients, which the event source mappings
	// batch (up to 100 stream records and 10 messages an invocation).
	if err := subscribe(1, "/hook", "asset.created"); err != nil {
		return err
	}
	burstN := max(events*4, 40)
	received.Store(0)
	m.take(1, 0)
	var next atomic.Int64
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for i := int(next.Add(1)); i <= burstN; i = int(next.Add(1)) {
				if err := create(i, body(i, 512)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			return err
		}
	}
	if err := settled(int64(burstN)); err != nil {
		return err
	}
	rows = append(rows, costRow{fmt.Sprintf(scenarioBurst, burstN), "API write and event", m.take(burstN, burstN), burstN})
	fmt.Printf("  %s: $%.2f per million\n", rows[len(rows)-1].name, rows[len(rows)-1].b.total()*1e6)

	alertRows, err := alertCosts(ctx, m, alertScenario{admin: admin, create: create, subscribe: subscribe, settled: settled, received: &received, n: max(events/3, 3)})
	if err != nil {
		return err
	}
	rows = append(rows, alertRows...)
	sync, err := entraCost(ctx, m)
	if err != nil {
		return err
	}
	rows = append(rows, sync)

	writeCostDoc(doc, m, rows, sizes, events, idle)
	return writeModel(rows, sizes)
}

// localPrefix is the local stack's name before a table's logical id.
var localPrefix = regexp.MustCompile(`test-\d+-`)

// mean is the per-event average of bills taken one event each.
func mean(bs []bill) bill {
	var out bill
	out.byFunction, out.byCall = map[string]devstack.FunctionUsage{}, map[string]cost.Part{}
	n := float64(len(bs))
	for _, b := range bs {
		out.wru += b.wru / n
		out.rru += b.rru / n
		out.sqs += b.sqs / n
		out.invocations += b.invocations / n
		out.gbSeconds += b.gbSeconds / n
		out.apiRequests += b.apiRequests / n
		out.schedules += b.schedules / n
		for call, p := range b.byCall {
			q := out.byCall[call]
			q.Calls += p.Calls
			q.WRU += p.WRU / n
			q.RRU += p.RRU / n
			out.byCall[call] = q
		}
		for fn, u := range b.byFunction {
			f := out.byFunction[fn]
			f.Invocations += u.Invocations
			f.Took += u.Took
			f.CPU += u.CPU
			out.byFunction[fn] = f
		}
	}
	return out
}
