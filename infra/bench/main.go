// Command bench measures what BENCHMARKS.md reports and rewrites that file:
// key verification (go test -bench), assets/create throughput through the
// real routes against moto beside a no-op and a one-PutItem handler, the
// DynamoDB calls one request makes, and each function's size and cold start.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/adminapi"
	"github.com/uniasset/integrations/shared/cost"
	"github.com/uniasset/integrations/shared/devstack"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/httpapi"
	"github.com/uniasset/integrations/shared/integrationapi"
)

func main() {
	out := flag.String("out", "BENCHMARKS.md", "file to write")
	requests := flag.Int("requests", 3000, "requests per load run")
	clients := flag.Int("clients", 8, "concurrent clients")
	only := flag.String("only", "", "comma-separated sections to run (keys,redact,throughput,deliveries,burst,inflight,isolation,activity,alerts,entra,cost,coldstart); default all")
	model := flag.Bool("model", false, "price a month with the last cost bench's model (make cost), and measure nothing")
	var v cost.Volume
	flag.Float64Var(&v.Writes, "writes", 10e6, "with -model: integration API writes a month, each an event")
	flag.Float64Var(&v.Webhooks, "webhooks", 1, "with -model: webhooks an event goes to, on average")
	flag.Float64Var(&v.Failing, "failing", 0.01, "with -model: share of deliveries failing every attempt")
	flag.Float64Var(&v.Alerts, "alerts", 10000, "with -model: expiry alerts fired a month")
	flag.Float64Var(&v.EntraTenants, "entra-tenants", 10, "with -model: tenants syncing a directory of 1,000 users")
	flag.Float64Var(&v.RetentionDays, "retention-days", 0, "with -model: RECORD_RETENTION_DAYS (0: rows kept; storage after a year)")
	flag.Parse()
	if *model {
		if err := printModel(v); err != nil {
			fmt.Fprintln(os.Stderr, "cost:", err)
			os.Exit(2)
		}
		return
	}
	sections = map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		if s != "" {
			sections[s] = true
		}
	}
	if err := run(*out, *requests, *clients); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// sections limits a run to some sections; empty means all.
var sections map[string]bool

func want(section string) bool { return len(sections) == 0 || sections[section] }

func run(out string, requests, clients int) error {
	var doc bytes.Buffer
	fmt.Fprintf(&doc, "# Benchmarks\n\nWritten by `make bench` (`go run ./infra/bench`) on %s: %d cores, %s, %s.\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), cpuModel(), runtime.Version())
	fmt.Fprintf(&doc, "Figures vary run to run by a few percent; compare runs with `benchstat`.\n")

	steps := []struct {
		name, title string
		run         func() error
	}{
		{"keys", "key verification (go test -bench)", func() error { return keyVerification(&doc) }},
		{"redact", "redaction of hostile 64 KiB bodies (go test -bench)", func() error { return redaction(&doc) }},
		{"throughput", "throughput against moto, write-to-receiver latency", func() error { return throughput(&doc, requests, clients) }},
		{"deliveries", "webhook deliveries per second", func() error { return deliveryThroughput(&doc) }},
		{"burst", "burst of 1,000 creates, three webhooks", func() error { return burst(&doc, 1000) }},
		{"inflight", "one tenant's outage: in-flight messages", func() error { return inflight(&doc, 300) }},
		{"isolation", "isolation: 50 dead receivers beside a healthy one (simulation)", func() error { return isolation(&doc) }},
		{"activity", "activity log reads", func() error { return activityRead(&doc) }},
		{"alerts", "expiry alerts: one pass over 10,000 due items beside 100,000 not due", func() error { return alertPass(&doc) }},
		{"entra", "Entra ID sync: 50,000 users in 200 groups", func() error { return entraSync(&doc) }},
		{"cost", "what a million events cost on AWS (metered through the real handlers)", func() error { return costs(&doc, 30) }},
		{"coldstart", "binary size and cold start", func() error { return coldStart(&doc) }},
	}
	for _, s := range steps {
		if !want(s.name) {
			continue
		}
		fmt.Println("==", s.title)
		if err := s.run(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	fmt.Println(doc.String())
	return os.WriteFile(out, doc.Bytes(), 0o644)
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	if m := regexp.MustCompile(`model name\s*:\s*(.+)`).FindSubmatch(b); m != nil {
		return strings.TrimSpace(string(m[1]))
	}
	return runtime.GOARCH
}

// redaction runs the redaction benchmark 5 times and reports the median per body shape.
func redaction(doc *bytes.Buffer) error {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "RedactWorstCase64KiB", "-benchtime", "20x", "-count", "5", "./shared/redact")
	raw, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, raw)
	}
	res := map[string][]float64{}
	for _, m := range regexp.MustCompile(`BenchmarkRedactWorstCase64KiB/([\w-]+?)-\d+\s+\d+\s+([\d.]+) ns/op`).FindAllSubmatch(raw, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		res[string(m[1])] = append(res[string(m[1])], v)
	}
	if len(res) == 0 {
		return fmt.Errorf("benchmark output not understood: %s", raw)
	}
	fmt.Fprintf(doc, `
## Redaction of hostile bodies

Method: `+"`go test -bench RedactWorstCase64KiB -benchtime 20x -count 5 ./shared/redact`"+`; medians
of 5. Every API call redacts its request body (up to 64 KiB) before the call log stores it, so a
client chooses what redaction costs; each shape below fills 64 KiB with what is dearest to scan.
Before this section existed, 64 KiB of letters took about 690 ms (a regular expression looked for
names) and each JSON number like 4e999999 0.2-1.3 s (math/big).

| body (64 KiB of) | ms per body |
|---|---:|
`)
	names := make([]string, 0, len(res))
	for n := range res {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(doc, "| %s | %.1f |\n", n, median(res[n])/1e6)
	}
	return nil
}

// keyVerification runs the apikey benchmarks 5 times each and reports medians.
func keyVerification(doc *bytes.Buffer) error {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "Authenticate", "-benchtime", "1s", "-count", "5", "./shared/apikey")
	raw, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, raw)
	}
	res := map[string][]float64{}
	for _, m := range regexp.MustCompile(`(BenchmarkAuthenticate\w+)-\d+\s+\d+\s+([\d.]+) ns/op`).FindAllSubmatch(raw, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		res[string(m[1])] = append(res[string(m[1])], v)
	}
	unc, cac := median(res["BenchmarkAuthenticateUncached"]), median(res["BenchmarkAuthenticateCached"])
	if unc == 0 || cac == 0 {
		return fmt.Errorf("benchmark output not understood: %s", raw)
	}
	fmt.Fprintf(doc, `
## API key verification

Method: `+"`go test -bench Authenticate -count 5 ./shared/apikey`"+`; medians of 5. Both run the
whole of `+"`Service.Authenticate`"+` (header parsing, lookup, record and plan read, checks) against an
in-memory table, so the figures are verification cost, not network. Uncached pays bcrypt at cost
10 (the production default); cached remembers "this exact key string matched key id X with hash
H" and still reads the key record on every request, so revocation applies at once.

| case | ns/op |
|---|---:|
| uncached (bcrypt cost 10) | %.0f |
| cached | %.0f |
| ratio | **%.0f×** |
`, unc, cac, unc/cac)
	return nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// counting wraps the DynamoDB client and counts calls by operation.
type counting struct {
	dynamo.API
	mu    sync.Mutex
	calls map[string]int
	read  atomic.Int64 // items the calls returned or scanned
}

func (c *counting) add(op string) { c.mu.Lock(); c.calls[op]++; c.mu.Unlock() }

func (c *counting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.add("GetItem")
	out, err := c.API.GetItem(ctx, in, o...)
	if err == nil && out.Item != nil {
		c.read.Add(1)
	}
	return out, err
}
func (c *counting) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.add("BatchGetItem")
	out, err := c.API.BatchGetItem(ctx, in, o...)
	if err == nil {
		for _, items := range out.Responses {
			c.read.Add(int64(len(items)))
		}
	}
	return out, err
}
func (c *counting) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	c.add("Scan")
	out, err := c.API.(interface {
		Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	}).Scan(ctx, in, o...)
	if err == nil {
		c.read.Add(int64(out.ScannedCount))
	}
	return out, err
}
func (c *counting) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.add("PutItem")
	return c.API.PutItem(ctx, in, o...)
}
func (c *counting) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.add("UpdateItem")
	return c.API.UpdateItem(ctx, in, o...)
}
func (c *counting) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.add("DeleteItem")
	return c.API.DeleteItem(ctx, in, o...)
}
func (c *counting) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.add("Query")
	out, err := c.API.Query(ctx, in, o...)
	if err == nil {
		c.read.Add(int64(out.ScannedCount))
	}
	return out, err
}
func (c *counting) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.add("BatchWriteItem")
	return c.API.(interface {
		BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	}).BatchWriteItem(ctx, in, o...)
}
func (c *counting) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.add("TransactWriteItems")
	return c.API.TransactWriteItems(ctx, in, o...)
}

type loadResult struct {
	perSec        float64
	p50, p99      time.Duration
	errs          int
	statusSamples map[int]int
}

// load sends n POSTs from c clients to url and measures them.
func load(url, key string, n, c int, body func(i int) string) loadResult {
	var (
		next atomic.Int64
		mu   sync.Mutex
		lat  = make([]time.Duration, 0, n)
		res  = loadResult{statusSamples: map[int]int{}}
		wg   sync.WaitGroup
	)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c}}
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > n {
					return
				}
				req, _ := http.NewRequest("POST", url, strings.NewReader(body(i)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+key)
				t0 := time.Now()
				resp, err := client.Do(req)
				d := time.Since(t0)
				mu.Lock()
				if err != nil {
					res.errs++
				} else {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					res.statusSamples[resp.StatusCode]++
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	res.perSec = float64(n) / elapsed.Seconds()
	if len(lat) > 0 {
		res.p50, res.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return res
}

func throughput(doc *bytes.Buffer, n, c int) (err error) {
	ctx := context.Background()
	stack, stop, err := devstack.StartForTests(ctx, map[string]string{"BCRYPT_COST": "10", "RETRY_SCHEDULE": "", "DELIVERY_TIMEOUT": "10s"})
	if err != nil {
		return err
	}
	defer stop()

	// Keys made through the real admin route: one with only its tenant's
	// limit, one with a limit of its own too (never reached here).
	admin := httptest.NewServer(stack.Gateway)
	defer admin.Close()
	tok, _ := stack.Issuer.Token("demo-enterprise", "Owner", "bench", time.Hour)
	newKey := func(body string) (string, error) {
		req, _ := http.NewRequest("POST", admin.URL+"/api/integrations/api-keys", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		key := regexp.MustCompile(`ua_live_[0-9a-f]{64}`).FindString(string(raw))
		if key == "" {
			return "", fmt.Errorf("no key created: %s", raw)
		}
		return key, nil
	}
	key, err := newKey(`{"name":"bench","permissions":["asset:create"]}`)
	if err != nil {
		return err
	}
	limitedKey, err := newKey(`{"name":"bench limited","permissions":["asset:create"],"rateLimit":{"requests":1000,"per":"second"}}`)
	if err != nil {
		return err
	}

	counter := &counting{API: stack.DB, calls: map[string]int{}}
	adminHandler, err := adminapi.Build(ctx, stack.Config.AdminAPI, stack.Principals["AdminApiFunction"].AWS)
	if err != nil {
		return err
	}
	real := map[string]httpapi.LambdaHandler{
		"IntegrationApiFunction": httpapi.Lambda(integrationapi.New(stack.Config.IntegrationAPI, counter).Handler()),
		"AdminApiFunction":       httpapi.Lambda(adminHandler),
	}
	noop := func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 201, Body: `{}`}, nil
	}
	var seq atomic.Int64
	onePut := func(ctx context.Context, _ events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		_, err := stack.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(stack.AssetsTable), Item: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: fmt.Sprintf("BENCH#%d", seq.Add(1))}, "SK": &types.AttributeValueMemberS{Value: "X"},
		}})
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: 201, Body: `{}`}, nil
	}
	serve := func(h httpapi.LambdaHandler) (*httptest.Server, error) {
		handlers := map[string]httpapi.LambdaHandler{"IntegrationApiFunction": h, "AdminApiFunction": real["AdminApiFunction"]}
		gw, err := devstack.NewGateway(stack.Template.Routes(), handlers, stack.Issuer)
		if err != nil {
			return nil, err
		}
		return httptest.NewServer(gw), nil
	}
	body := func(i int) string {
		return fmt.Sprintf(`{"name":"Sensor %d","categoryName":"IoT","statusName":"ACTIVE","serialNumber":"SN-%d"}`, i, i)
	}
	results := map[string]loadResult{}
	calls := map[string]map[string]int{}
	for _, v := range []struct {
		name, key string
		h         httpapi.LambdaHandler
	}{{"noop", key, noop}, {"oneput", key, onePut}, {"create", key, real["IntegrationApiFunction"]}, {"create-limited", limitedKey, real["IntegrationApiFunction"]}} {
		srv, err := serve(v.h)
		if err != nil {
			return err
		}
		load(srv.URL+"/api/integrations/assets/create", v.key, 100, c, body) // warm up
		counter.mu.Lock()
		counter.calls = map[string]int{}
		counter.mu.Unlock()
		results[v.name] = load(srv.URL+"/api/integrations/assets/create", v.key, n, c, body)
		counter.mu.Lock()
		calls[v.name] = counter.calls
		counter.calls = map[string]int{} // the next run's warm-up is not this run's
		counter.mu.Unlock()
		srv.Close()
		fmt.Printf("  %s: %.0f req/s %+v\n", v.name, results[v.name].perSec, results[v.name].statusSamples)
	}
	for _, name := range []string{"create", "create-limited"} {
		if cr := results[name]; cr.errs > 0 || cr.statusSamples[201] != n {
			return fmt.Errorf("%s run was not all 201s: %+v", name, cr)
		}
	}
	defer func() {
		if err == nil {
			err = writeToReceiverLatency(doc, stack, admin, key, tok)
		}
	}()
	perRequest := func(calls map[string]int) (float64, string) {
		var ops []string
		total := 0
		for op, k := range calls {
			ops = append(ops, fmt.Sprintf("%s %.2f", op, float64(k)/float64(n)))
			total += k
		}
		sort.Strings(ops)
		return float64(total) / float64(n), strings.Join(ops, ", ")
	}
	total, ops := perRequest(calls["create"])
	limitedTotal, limitedOps := perRequest(calls["create-limited"])

	noopR, putR, cr, lr := results["noop"], results["oneput"], results["create"], results["create-limited"]
	fmt.Fprintf(doc, `
## assets/create throughput through the real routes, against moto

Method: the local stack's gateway (template routes → payload-2.0 event → the Lambda handler) on
loopback, moto_server as DynamoDB, %d requests from %d concurrent HTTP clients after 100 warm-up
requests, one API key (so verification is cached after the first call, as on a warm Lambda).
Three handlers behind the same harness: one that does nothing (the ceiling of this machine and
harness), one that makes a single PutItem (the ceiling of one emulator call per request), and the
real IntegrationApiFunction handler, with a key under its tenant's limit only and with a key that
has a limit of its own too (1,000 a second, never reached). Every real request returned 201.

| handler | req/s | p50 | p99 | vs no-op | vs one PutItem |
|---|---:|---:|---:|---:|---:|
| no-op | %.0f | %s | %s | 1.00 | |
| one PutItem | %.0f | %s | %s | %.2f | 1.00 |
| assets/create | %.0f | %s | %s | **%.3f** | **%.2f** |
| assets/create, key with its own limit | %.0f | %s | %s | **%.3f** | **%.2f** |

The local stack's stream and queue pollers run during these loads (as they do under make run)
and compete for moto, which lowers every figure here a little.

DynamoDB calls per assets/create request (counted by a wrapper around the client):

| key | calls per request | by operation |
|---|---:|---|
| the tenant's limit only | **%.2f** | %s |
| a limit of its own too (1,000 a second, never reached) | **%.2f** | %s |

That is: one BatchGetItem for the key record and tenant plan (consistent; re-read every request
so revocation and plan changes apply at once), one conditional UpdateItem for the rate limit
(the tenant's; with a key limit, the key's too, in the same write on the same item), one PutItem
for the asset, one PutItem for the API call log. A key's own limit adds no call. UpdateItems
above one a request are the limiter's second write when another request took the slot it
guessed first (8 clients on one tenant's one item; a tenant's requests spread over more items
only past 250 a second; with a key limit, two TATs are guessed, so the second write is a little
likelier) and lastUsedAt, one UpdateItem per key per minute; an Idempotency-Key adds a conditional PutItem (claim) and an
UpdateItem (store the response); an externalId turns the asset PutItem into a
TransactWriteItems. moto serializes requests in one Python process, so the real handler's ratio
to the one-PutItem ceiling is bounded by its four calls: about 1/4 is the most this harness can
show.
`, n, c, noopR.perSec, noopR.p50.Round(10*time.Microsecond), noopR.p99.Round(10*time.Microsecond),
		putR.perSec, putR.p50.Round(10*time.Microsecond), putR.p99.Round(10*time.Microsecond), putR.perSec/noopR.perSec,
		cr.perSec, cr.p50.Round(10*time.Microsecond), cr.p99.Round(10*time.Microsecond), cr.perSec/noopR.perSec, cr.perSec/putR.perSec,
		lr.perSec, lr.p50.Round(10*time.Microsecond), lr.p99.Round(10*time.Microsecond), lr.perSec/noopR.perSec, lr.perSec/putR.perSec,
		total, ops, limitedTotal, limitedOps)
	return nil
}

// coldStart builds each function twice: for Lambda (linux/arm64, the deployed
// artifact, for its size) and for this machine (to run it). It starts the
// host binary against a stub Lambda Runtime API and times process start to
// the first GET .../invocation/next, i.e. init done and ready for an event.
func coldStart(doc *bytes.Buffer) error {
	dir, err := os.MkdirTemp("", "coldstart-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(doc, `
## Function size and cold start

Method: each function built as `+"`make build`"+` does (`+"`-tags lambda.norpc -trimpath -ldflags=\"-s -w\"`"+`,
CGO off). Size is the linux/arm64 bootstrap that is deployed. Start-to-ready is measured on this
machine's architecture: the process is started against a stub Lambda Runtime API on loopback and
timed until its first `+"`GET /2018-06-01/runtime/invocation/next`"+`, i.e. configuration read, AWS
config loaded, handler built, ready for the first event; 25 starts each. The same stub answers
Secrets Manager, so the admin API's and the dispatcher's one GetSecretValue at cold start (the
sealing key) is included as a loopback round trip; on AWS it is a regional call of a few ms more.
Lambda adds its own sandbox and download time on top, which cannot be measured here.

| function | bootstrap (arm64) | start-to-ready p50 | p95 |
|---|---:|---:|---:|
`)
	for _, fn := range []string{"integration-api", "admin-api", "stream-router", "dispatcher"} {
		arm := filepath.Join(dir, fn+"-arm64")
		host := filepath.Join(dir, fn)
		flags := []string{"build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-buildvcs=false"}
		b := exec.Command("go", append(flags, "-o", arm, "./functions/"+fn)...)
		b.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
		if out, err := b.CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		b = exec.Command("go", append(flags, "-o", host, "./functions/"+fn)...)
		b.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := b.CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		st, _ := os.Stat(arm)
		var times []float64
		for range 25 {
			d, err := startToReady(host)
			if err != nil {
				return err
			}
			times = append(times, float64(d.Microseconds())/1000)
		}
		slices.Sort(times)
		fmt.Fprintf(doc, "| %s | %.1f MiB | %.1f ms | %.1f ms |\n", fn, float64(st.Size())/(1<<20), times[len(times)/2], times[len(times)*95/100])
	}
	return nil
}

func startToReady(bin string) (time.Duration, error) {
	ready := make(chan struct{}, 1)
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") == "secretsmanager.GetSecretValue" {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			fmt.Fprintf(w, `{"ARN":"arn:aws:secretsmanager:us-east-1:000000000000:secret:app","Name":"app","SecretString":%q}`, strings.Repeat("k", 64))
			return
		}
		if strings.HasSuffix(r.URL.Path, "/runtime/invocation/next") {
			select {
			case ready <- struct{}{}:
			default:
			}
			<-r.Context().Done() // hold the poll, as the real API does between events
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer stub.Close()
	cmd := exec.Command(bin)
	cmd.Env = []string{
		"AWS_LAMBDA_RUNTIME_API=" + strings.TrimPrefix(stub.URL, "http://"), "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x", "ASSETS_TABLE=a", "INTEGRATIONS_TABLE=i",
		"_HANDLER=bootstrap", "AWS_LAMBDA_FUNCTION_NAME=bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512",
		"AWS_ENDPOINT_URL=" + stub.URL, "APP_KEY_SECRET_ARN=app", "DELIVERY_QUEUE_URL=" + stub.URL + "/queue",
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	select {
	case <-ready:
		return time.Since(start), nil
	case <-time.After(10 * time.Second):
		return 0, fmt.Errorf("%s never polled for an event", bin)
	}
}
