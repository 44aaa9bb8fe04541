package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/cost"
	"github.com/uniasset/integrations/shared/devstack"
	"github.com/uniasset/integrations/shared/entra"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/tenant"
)

// The cost bench's scenarios that the model (cost.Model) is made of.
const (
	scenarioOne     = "an asset write, one webhook (0.5 KB)"
	scenarioFive    = "an asset write, five webhooks (0.5 KB)"
	scenarioFailing = "a delivery failing all 8 attempts (0.5 KB)"
	scenarioSlow    = "a receiver answering in 9 s (0.5 KB)"
	scenarioBurst   = "a burst of %d asset writes from 8 clients, one webhook (0.5 KB)"
	scenarioAlert   = "an expiry alert, one webhook"
	scenarioPass    = "an expiry alerts pass with nothing due"
	scenarioSync    = "an Entra sync of 1,000 unchanged users"
)

// modelFile is where the cost bench leaves its model for `make cost`.
const modelFile = "infra/bench/cost-model.json"

// costRow is one line of the cost table: a scenario's part, per event.
type costRow struct {
	name, part string
	b          bill
	n          int
}

func find(rows []costRow, name, part string) bill {
	for _, r := range rows {
		if r.name == name && (part == "" || r.part == part) {
			return r.b
		}
	}
	return bill{}
}

// rowSizes are the mean stored sizes of the rows one API write leaves.
type rowSizes struct{ callRow, delivery float64 }

// stored is what an item of size bytes takes in storage: DynamoDB adds 100
// bytes to each item and to each index entry, and the ByResource index
// projects every attribute.
func stored(size float64) float64 { return 2 * (size + 100) }

// measureRows reads the call rows and delivery records written so far (the
// bench's first scenario) and returns their mean size as DynamoDB counts it.
func measureRows(ctx context.Context, stack *devstack.Stack) (rowSizes, error) {
	var calls, deliveries []int
	p := dynamodb.NewScanPaginator(stack.DB, &dynamodb.ScanInput{TableName: aws.String(stack.IntegrationsTable)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return rowSizes{}, err
		}
		for _, it := range out.Items {
			pk, _ := it["PK"].(*types.AttributeValueMemberS)
			switch {
			case pk == nil:
			case strings.Contains(pk.Value, "#APILOG#"):
				calls = append(calls, cost.ItemSize(it))
			case strings.Contains(pk.Value, "#DELIVERY#"):
				deliveries = append(deliveries, cost.ItemSize(it))
			}
		}
	}
	avg := func(xs []int) float64 {
		t := 0
		for _, x := range xs {
			t += x
		}
		return float64(t) / float64(max(len(xs), 1))
	}
	if len(calls) == 0 || len(deliveries) == 0 {
		return rowSizes{}, fmt.Errorf("no rows to measure: %d call rows, %d deliveries", len(calls), len(deliveries))
	}
	return rowSizes{avg(calls), avg(deliveries)}, nil
}

// alertScenario is what the alert costs share with the other scenarios.
type alertScenario struct {
	admin     func(method, path, body string) (map[string]any, error)
	create    func(i int, payload string) error
	subscribe func(n int, path, event string) error
	settled   func(want int64) error
	received  *atomic.Int64
	n         int
}

// alertCosts measures n expiry alerts, each fired by a pass of its own (as
// the 15-minute schedule would) and delivered to one webhook, and one pass
// with nothing due: the pass is ExpiryAlertsFunction's handler with its
// own IAM principal, run as the schedule would, its watermark its own.
func alertCosts(ctx context.Context, m meters, s alertScenario) ([]costRow, error) {
	if err := s.subscribe(1, "/hook", "warranty.expiring"); err != nil {
		return nil, err
	}
	if _, err := s.admin("PATCH", "/api/integrations/alert-settings", `{"warrantyDays":1}`); err != nil {
		return nil, err
	}
	// One warranty a day from 2 March 2031; a pass 5 minutes after each
	// one's notice falls due (a day before its date) fires it and nothing else.
	first := time.Date(2031, 3, 2, 0, 0, 0, 0, time.UTC)
	for i := range s.n + 1 {
		due := first.AddDate(0, 0, i).Format("2006-01-02")
		if err := s.create(i, fmt.Sprintf(`{"name":"Warranty %d","categoryName":"Machines","statusName":"ACTIVE","warrantyExpiresAt":%q}`, i, due)); err != nil {
			return nil, err
		}
	}
	s.received.Store(0)
	if err := s.settled(0); err != nil {
		return nil, err
	}
	p := *m.stack.Alerts
	p.Watermark.Key = keyschema.Key{PK: keyschema.AlertWatermark().PK, SK: "BENCH#cost"}
	p.Retries = &alert.Retries{DB: p.Retries.DB, Table: p.Retries.Table, PK: keyschema.AlertRetryPK + "#BENCH#cost"}
	mark := p.Watermark.Key.Attrs()
	// pass runs the pass as of at over the 15 minutes before it, as the
	// schedule does (a pass's queries walk the stretch since the last one).
	pass := func(at time.Time) (alert.Result, devstack.FunctionUsage, error) {
		mark["at"] = &types.AttributeValueMemberS{Value: isotime.Format(at.Add(-15 * time.Minute))}
		if _, err := m.stack.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(m.stack.IntegrationsTable), Item: mark}); err != nil {
			return alert.Result{}, devstack.FunctionUsage{}, err // (stack.DB is not metered)
		}
		var r alert.Result
		u, err := devstack.Measure(func() (err error) {
			r, err = p.Run(ctx, at.Add(alert.PassLag))
			return err
		})
		return r, u, err
	}
	// Warm: the first pass's cold caches are not an alert's.
	notice := func(i int) time.Time { return first.AddDate(0, 0, i-1).Add(5 * time.Minute) }
	if r, _, err := pass(notice(0)); err != nil || r.Fired != 1 {
		return nil, fmt.Errorf("warm pass: fired %d, %v", r.Fired, err)
	}
	if err := s.settled(1); err != nil {
		return nil, err
	}
	s.received.Store(0)
	m.take(1, 0)
	var alerts []bill
	for i := 1; i <= s.n; i++ {
		r, u, err := pass(notice(i))
		if err != nil || r.Fired != 1 {
			return nil, fmt.Errorf("pass %d: fired %d, %v", i, r.Fired, err)
		}
		if err := s.settled(int64(i)); err != nil {
			return nil, err
		}
		b := m.take(1, 0)
		b.ran(m, "ExpiryAlertsFunction", u, 1)
		b.schedules++
		alerts = append(alerts, b)
	}
	var idle []bill
	for i := range 3 {
		r, u, err := pass(notice(s.n).Add(time.Duration(i+1) * 15 * time.Minute))
		if err != nil || r.Fired != 0 {
			return nil, fmt.Errorf("idle pass: fired %d, %v", r.Fired, err)
		}
		b := m.take(1, 0)
		b.ran(m, "ExpiryAlertsFunction", u, 1)
		b.schedules++
		idle = append(idle, b)
	}
	return []costRow{{scenarioAlert, "pass and delivery", mean(alerts), s.n}, {scenarioPass, "pass", mean(idle), len(idle)}}, nil
}

// entraCost measures a sync of a directory of 1,000 users in 10 mapped
// groups that has not changed since the last one: EntraSyncFunction's
// Syncer with its own IAM principal against moto and the fake Microsoft.
// Its job's message (one send, receive and delete) is counted with it.
func entraCost(ctx context.Context, m meters) (costRow, error) {
	const tid = "bench-entra-cost"
	dir, mappings := entraDirectory("Cost", 1000, 10)
	m.stack.Microsoft.Consent(dir)
	store := &entra.Store{DB: m.stack.DB, Table: m.stack.IntegrationsTable, Index: entra.Index}
	if err := (&tenant.Store{DB: m.stack.DB, Table: m.stack.IntegrationsTable}).Put(ctx, tenant.Profile{TenantID: tid, Name: "Cost", Plan: tenant.Enterprise}); err != nil {
		return costRow{}, err
	}
	if err := store.Connect(ctx, tid, "bench", "admin@bench.example", dir.Org, time.Now()); err != nil {
		return costRow{}, err
	}
	if err := store.SetMappings(ctx, tid, dir.Org.ID, mappings); err != nil {
		return costRow{}, err
	}
	awsCfg := m.stack.Principals["EntraSyncFunction"].AWS
	cfg := m.stack.Config.EntraSync
	ms, err := entra.LoadMicrosoft(ctx, secretsmanager.NewFromConfig(awsCfg), cfg.Entra)
	if err != nil {
		return costRow{}, err
	}
	f := entra.NewFunction(cfg, dynamodb.NewFromConfig(awsCfg), sqs.NewFromConfig(awsCfg), ms)
	var syncs []bill
	for i := range 4 {
		m.take(1, 0)
		var out entra.Outcome
		u, err := devstack.Measure(func() (err error) {
			out, err = f.Syncer.Sync(ctx, tid)
			return err
		})
		if err != nil || !out.Ran || out.Result.Outcome != entra.Succeeded {
			return costRow{}, fmt.Errorf("sync %d: %+v, %v", i, out, err)
		}
		b := m.take(1, 0)
		if i == 0 { // the first provisions everyone
			continue
		}
		if out.Result.Provisioned+out.Result.Updated+out.Result.RoleChanges+out.Result.Deprovisioned != 0 {
			return costRow{}, fmt.Errorf("sync %d of an unchanged directory wrote accounts: %+v", i, out.Result)
		}
		b.ran(m, "EntraSyncFunction", u, 1)
		b.sqs += 3
		syncs = append(syncs, b)
	}
	return costRow{scenarioSync, "sync", mean(syncs), len(syncs)}, nil
}

// own is u less the processor time the process spends idle (pollers
// waiting on moto) over u's duration: what the function itself used.
func own(u devstack.FunctionUsage, idle float64) devstack.FunctionUsage {
	u.CPU = max(u.CPU-time.Duration(idle*float64(u.Took)), 0)
	return u
}

// memories are the sizes the cost bench prices each function at.
var memories = []int{128, 256, 512, 1024}

// fullCore is the memory at which Lambda gives a function one whole vCPU;
// below it, processor time stretches by fullCore/memory.
const fullCore = 1769

// atMemory is one invocation of u's mean at mb: the time it waited (its
// duration here less its processor time) plus its processor time
// stretched to mb's share of a core; and what a million of them cost.
func atMemory(u devstack.FunctionUsage, mb int) (took time.Duration, perMillion float64) {
	n := time.Duration(max(u.Invocations, 1))
	wall, cpu := u.Took/n, min(u.CPU/n, u.Took/n)
	took = wall - cpu + time.Duration(float64(cpu)*math.Max(1, fullCore/float64(mb)))
	return took, (cost.Price.LambdaRequest + took.Seconds()*float64(mb)/1024*cost.Price.LambdaGBSecond) * 1e6
}

func writeCostDoc(doc *bytes.Buffer, m meters, rows []costRow, sizes rowSizes, events int, idle float64) {
	fmt.Fprintf(doc, `
## What a million events cost on AWS

Method: `+"`go run ./infra/bench -only cost`"+`: the local stack with IAM enforced, moto as AWS, every
function's clients metered (shared/cost): DynamoDB request units as DynamoDB computes them (each
write on the larger whole item before and after it, read through the table, uncounted; index
writes per entry; transactions twice; reads per 4 KB; Query on what it read before its filter),
SQS requests per 64 KB chunk including the event source mappings' receives and deletes (empty
receives, an idle poller's monthly cost, are left out), Lambda invocations and their measured
duration times each function's memory (this machine's duration: an upper bound, moto answers
slower than DynamoDB), one HTTP API request per API call, one EventBridge Scheduler invocation per
scheduled run. %d events per scenario (a sixth of that for the failing and the slow receiver),
one at a time (each waits for its deliveries and for the pipeline to rest), after 2 to warm up;
then a burst from 8 clients at once, which the event source mappings batch as they do at volume
(its Lambda time is mostly calls queueing at moto's one core: read its units, requests and
invocations, not its GB-s).
Production's delivery settings: 8 attempts, 10 s timeout (the waits between retries shortened to
1 s: a wait is not billed). The asset write is the integration API call; the event is everything
after it (stream router, delivery queue, dispatcher) until every webhook has its delivery. An
expiry alert is one pass of ExpiryAlertsFunction (its handler run as the schedule runs it, with
its IAM principal) that fires one warranty notice, and that notice's delivery; an Entra sync is
EntraSyncFunction's sync of one tenant whose 1,000 users in 10 mapped groups have not changed,
with its job's message (send, receive, delete).

Prices (us-east-1 list, shared/cost/prices.go): DynamoDB on-demand $%.3f per million WRU and $%.3f
per million RRU, storage $%.2f per GB-month; SQS $%.2f per million requests; Lambda $%.2f per
million requests and $%.10f per GB-second (arm64); HTTP API $%.2f per million requests;
EventBridge Scheduler $%.2f per million invocations.

| scenario | part | WRU | RRU | SQS requests | Lambda invocations | Lambda GB-s | DynamoDB $/M | SQS $/M | Lambda $/M | HTTP API, Scheduler $/M | total $/M |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
`, events, cost.Price.WRU*1e6, cost.Price.RRU*1e6, cost.Price.StorageGBMonth, cost.Price.SQSRequest*1e6, cost.Price.LambdaRequest*1e6,
		cost.Price.LambdaGBSecond, cost.Price.HTTPAPIRequest*1e6, cost.Price.SchedulerInvocation*1e6)
	for _, r := range rows {
		fmt.Fprintf(doc, "| %s | %s | %.2f | %.2f | %.2f | %.2f | %.4f | %.2f | %.2f | %.2f | %.2f | **%.2f** |\n", r.name, r.part,
			r.b.wru, r.b.rru, r.b.sqs, r.b.invocations, r.b.gbSeconds, r.b.dynamo()*1e6, r.b.queues()*1e6, r.b.lambda()*1e6, r.b.gateway()*1e6, r.b.total()*1e6)
	}

	year := 100.0 * 86400 * 365
	callGB, delGB := year*stored(sizes.callRow)/(1<<30), year*stored(sizes.delivery)/(1<<30)
	fmt.Fprintf(doc, `
Storage: a call row of the first scenario is %.0f bytes stored and a delivery record %.0f (the
item as DynamoDB sizes it, again in the ByResource index, which projects every attribute, and
DynamoDB's 100 bytes of overhead on each). A year of call rows at 100 writes a second (%.2f
billion rows) is %.0f GB: **$%.0f a month** at the year's end if kept (RECORD_RETENTION_DAYS=0),
$%.0f a month with RECORD_RETENTION_DAYS=90. Their delivery records, one webhook each, add %.0f GB
($%.0f a month kept, $%.0f with 90 days).
`, stored(sizes.callRow), stored(sizes.delivery), year/1e9, callGB, callGB*cost.Price.StorageGBMonth, callGB*90/365*cost.Price.StorageGBMonth,
		delGB, delGB*cost.Price.StorageGBMonth, delGB*90/365*cost.Price.StorageGBMonth)

	fmt.Fprintf(doc, "\nLambda time per invocation by function (ms, mean: duration, and this process's processor time meanwhile less its idle rate, %.1f ms a second):\n", idle*1000)
	fmt.Fprintln(doc)
	for _, r := range rows {
		var parts []string
		for fn, u := range r.b.byFunction {
			n := time.Duration(max(u.Invocations, 1))
			parts = append(parts, fmt.Sprintf("%s %.1f (CPU %.1f)", fn, ms(u.Took/n), ms(own(u, idle).CPU/n)))
		}
		sort.Strings(parts)
		fmt.Fprintf(doc, "- %s, %s: %s\n", r.name, r.part, strings.Join(parts, ", "))
	}

	fmt.Fprint(doc, `
Memory: Lambda gives a function processor time in proportion to its memory (a whole vCPU at
1,769 MB), so an invocation at M MB lasts its waiting (on DynamoDB, SQS, a receiver) plus its
processor time stretched by 1,769/M. Measured here: duration and this process's processor time
during each invocation, less what the process uses idle over as long (its pollers waiting on moto,
measured for 2 s at rest); one invocation at a time, so what remains is the function's, with the
bench's receiver (an upper bound); waiting = duration − processor time (moto's, slower than
DynamoDB: an upper bound too); the 9 s receiver's attempt is the quick one's work, so its
processor time is the quick one's. The cost of an invocation is its duration times its memory:
waiting costs in proportion to memory, processor time does not, so the smallest memory is the
cheapest; it is chosen where the stretched processor time still adds little to a request's
latency. Per million invocations at each size, with the invocation's duration:

| function (scenario) | duration here | processor | 128 MB | 256 MB | 512 MB | 1,024 MB | template |
|---|---:|---:|---:|---:|---:|---:|---:|
`)
	for _, c := range []struct {
		fn, scenario, part string
		workOf             string // a scenario doing the same work, whose processor time is this one's
	}{
		{"IntegrationApiFunction", scenarioOne, "API write", ""},
		{"StreamRouterFunction", scenarioOne, "event", ""},
		{"DispatcherFunction", scenarioOne, "event", ""},
		// The same attempt, answered 9 s later: over that long this
		// process's background (pollers, the other receivers) swamps the
		// measure, so the quick attempt's processor time is taken.
		{"DispatcherFunction", scenarioSlow, "event", scenarioOne},
		{"ExpiryAlertsFunction", scenarioAlert, "", ""},
		{"EntraSyncFunction", scenarioSync, "", ""},
	} {
		u := own(find(rows, c.scenario, c.part).byFunction[c.fn], idle)
		if u.Invocations == 0 {
			continue
		}
		if c.workOf != "" {
			w := own(find(rows, c.workOf, c.part).byFunction[c.fn], idle)
			u.CPU = w.CPU * time.Duration(u.Invocations) / time.Duration(max(w.Invocations, 1))
		}
		n := time.Duration(u.Invocations)
		cells := []string{fmt.Sprintf("%s (%s)", c.fn, c.scenario), fmt.Sprintf("%.1f ms", ms(u.Took/n)), fmt.Sprintf("%.1f ms", ms(u.CPU/n))}
		for _, mb := range memories {
			took, dollars := atMemory(u, mb)
			cells = append(cells, fmt.Sprintf("$%.2f (%.0f ms)", dollars, ms(took)))
		}
		cells = append(cells, fmt.Sprintf("%d MB", m.stack.Template.Memory(c.fn)))
		fmt.Fprintf(doc, "| %s |\n", strings.Join(cells, " | "))
	}

	fmt.Fprintln(doc, "\nDynamoDB by call, per event (units; calls): where the units go.")
	fmt.Fprintln(doc)
	for _, r := range rows {
		var parts []string
		for call, u := range r.b.byCall {
			parts = append(parts, fmt.Sprintf("%s %.1f WRU %.1f RRU (%.1f)", call, u.WRU, u.RRU, float64(u.Calls)/float64(r.n)))
		}
		sort.Strings(parts)
		fmt.Fprintf(doc, "- %s, %s: %s\n", r.name, r.part, strings.Join(parts, "; "))
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// writeModel leaves the measured model for `make cost`.
func writeModel(rows []costRow, sizes rowSizes) error {
	one := find(rows, scenarioOne, "event").total()
	model := cost.Model{
		Measured:       time.Now().UTC().Format("2006-01-02"),
		WriteAndEvent:  find(rows, scenarioOne, "API write").total() + one,
		ExtraWebhook:   (find(rows, scenarioFive, "event").total() - one) / 4,
		FailedDelivery: find(rows, scenarioFailing, "event").total() - one,
		AlertFired:     find(rows, scenarioAlert, "").total(),
		AlertPass:      find(rows, scenarioPass, "").total(),
		EntraSync:      find(rows, scenarioSync, "").total(),
		CallRowBytes:   stored(sizes.callRow),
		DeliveryBytes:  stored(sizes.delivery),
	}
	raw, err := json.MarshalIndent(model, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(modelFile, append(raw, '\n'), 0o644)
}

// printModel prices a month of v with the model the last cost bench left.
func printModel(v cost.Volume) error {
	raw, err := os.ReadFile(modelFile)
	if err != nil {
		return fmt.Errorf("%w (make bench, or go run ./infra/bench -only cost, writes it)", err)
	}
	var model cost.Model
	if err := json.Unmarshal(raw, &model); err != nil {
		return fmt.Errorf("%s: %w", modelFile, err)
	}
	lines, err := model.Month(v)
	if err != nil {
		return err
	}
	fmt.Printf("A month on AWS (us-east-1 list prices; measured %s, %s; events one at a time, the dearest case):\n\n", model.Measured, modelFile)
	total := 0.0
	for _, l := range lines {
		fmt.Printf("  %-60s %12.2f\n", l.What, l.Dollars)
		total += l.Dollars
	}
	fmt.Printf("  %-60s %12.2f\n", "total, dollars", total)
	if v.Writes > 0 {
		fmt.Printf("\n  per million API writes with their events: $%.2f\n", total/v.Writes*1e6)
	}
	fmt.Println("\nNot included: the free tiers; data transfer out to receivers; CloudWatch logs and metrics;\nSecrets Manager ($0.40 a secret a month); idle event source mappings' empty receives.")
	return nil
}
