package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/uniasset/integrations/shared/apikey"
	"github.com/uniasset/integrations/shared/config"
	"github.com/uniasset/integrations/shared/devstack"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/httpapi"
	"github.com/uniasset/integrations/shared/integrationapi"
	"github.com/uniasset/integrations/shared/ratelimit"
	"github.com/uniasset/integrations/shared/tenant"
)

// readCounter counts the DynamoDB reads the integration API makes, on the
// function's own (IAM-checked) client.
type readCounter struct {
	dynamo.API
	reads atomic.Int64 // GetItem, BatchGetItem, Query
	calls atomic.Int64 // every call, reads and writes
}

func (c *readCounter) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.reads.Add(1)
	c.calls.Add(1)
	return c.API.GetItem(ctx, in, o...)
}

func (c *readCounter) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.reads.Add(1)
	c.calls.Add(1)
	return c.API.BatchGetItem(ctx, in, o...)
}

func (c *readCounter) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.reads.Add(1)
	c.calls.Add(1)
	return c.API.Query(ctx, in, o...)
}

func (c *readCounter) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.calls.Add(1)
	return c.API.PutItem(ctx, in, o...)
}

func (c *readCounter) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.calls.Add(1)
	return c.API.UpdateItem(ctx, in, o...)
}

func (c *readCounter) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.calls.Add(1)
	return c.API.TransactWriteItems(ctx, in, o...)
}

func (c *readCounter) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.calls.Add(1)
	return c.API.DeleteItem(ctx, in, o...)
}

func (c *readCounter) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.calls.Add(1)
	return c.API.BatchWriteItem(ctx, in, o...)
}

// integrationGateway serves the routes with an integration API of its own
// configuration (the admin API is the stack's), as its Lambda would run it
// with IntegrationApiFunction's credentials.
func integrationGateway(t *testing.T, cfg config.IntegrationAPI) (*httptest.Server, *readCounter) {
	t.Helper()
	db := &readCounter{API: dynamodb.NewFromConfig(stack.Principals["IntegrationApiFunction"].AWS)}
	handlers := map[string]httpapi.LambdaHandler{
		"IntegrationApiFunction": httpapi.Lambda(integrationapi.New(cfg, db).Handler()),
		"AdminApiFunction":       httpapi.Lambda(stack.Handlers["AdminApiFunction"]),
	}
	gw, err := devstack.NewGateway(stack.Template.Routes(), handlers, stack.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return srv, db
}

func retryAfter(t *testing.T, r response) int {
	t.Helper()
	n, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || n < 1 {
		t.Fatalf("Retry-After %q, want whole seconds ≥ 1", r.Header.Get("Retry-After"))
	}
	return n
}

// A tenant over its limit gets 429 RATE_LIMITED with Retry-After and the
// RateLimit fields, and no API log entry per refusal; another tenant's
// requests in the same moment succeed; after Retry-After the first is
// admitted again.
func TestRateLimitPerTenantE2E(t *testing.T) {
	cfg := stack.Config.IntegrationAPI
	cfg.APIRateLimit, cfg.APIRateBurst = 1, 3
	srv, _ := integrationGateway(t, cfg)
	a, b := newTenant(t, tenant.Enterprise), newTenant(t, tenant.Enterprise)
	keyA, _ := newKey(t, a, "asset:create")
	keyB, _ := newKey(t, b, "asset:create")
	create := func(key string, n int) response {
		return callAt(t, srv.URL, "POST", "/api/integrations/assets/create", key,
			map[string]any{"name": fmt.Sprintf("Pump %d", n), "categoryName": "Pumps", "statusName": "ACTIVE"})
	}

	start := time.Now()
	admitted := 0
	var refused response
	for i := range 20 {
		r := create(keyA, i)
		if r.Status == http.StatusTooManyRequests {
			refused = r
			break
		}
		expect(t, r, http.StatusCreated, "")
		if got := r.Header.Get("RateLimit-Policy"); got != `"tenant";q=3;w=3` {
			t.Fatalf("admitted: RateLimit-Policy %q", got)
		}
		admitted++
	}
	// GCRA: the burst at once, then one a second, however slow the machine.
	// One less is allowed (seen once on a loaded machine; likeliest cause, an
	// SDK retry of a write whose answer was lost takes a second slot): the
	// limiter may err toward refusing, never toward admitting.
	if refused.Status == 0 || admitted < 3-1 || admitted > 3+int(time.Since(start)/time.Second) {
		t.Fatalf("%d admitted in %v before a 429 (status %d), want the burst of 3 and one a second", admitted, time.Since(start), refused.Status)
	}
	expect(t, refused, http.StatusTooManyRequests, "RATE_LIMITED")
	wait := retryAfter(t, refused)
	if got, want := refused.Header.Get("RateLimit"), `"tenant";r=0;t=`+strconv.Itoa(wait); got != want || wait > 1 {
		t.Fatalf("RateLimit %q (Retry-After %d), want %q within one interval", got, wait, want)
	}
	if got := refused.Header.Get("RateLimit-Policy"); got != `"tenant";q=3;w=3` {
		t.Fatalf("refused: RateLimit-Policy %q", got)
	}

	// The other tenant, now: its own limit, untouched.
	for i := range 3 {
		expect(t, create(keyB, i), http.StatusCreated, "")
	}

	// Only admitted calls are in A's call log; the 429 wrote nothing.
	if got := apiLogRows(t, a); got != admitted {
		t.Fatalf("%d API log rows for %d admitted calls and a 429", got, admitted)
	}

	time.Sleep(time.Duration(wait) * time.Second) // what the header asked, no more
	expect(t, create(keyA, 99), http.StatusCreated, "")
}

func apiLogRows(t *testing.T, tenantID string) int {
	t.Helper()
	r := call(t, "GET", "/api/integrations/activity?source=api&limit=100", token(t, tenantID, "Owner"), nil)
	expect(t, r, http.StatusOK, "")
	return len(r.json(t)["rows"].([]any))
}

// A flood of random well-formed keys from one address costs the address's
// lookups in DynamoDB reads, then none: the rest are refused from memory
// (429 with Retry-After). A key verified before the flood still works.
func TestRateLimitRandomKeyFloodE2E(t *testing.T) {
	cfg := stack.Config.IntegrationAPI
	cfg.KeyLookupsPerSource = 10
	srv, db := integrationGateway(t, cfg)
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, "asset:create")
	body := map[string]any{"name": "Valve", "categoryName": "Valves", "statusName": "ACTIVE"}
	expect(t, callAt(t, srv.URL, "POST", "/api/integrations/assets/create", key, body), http.StatusCreated, "") // verified: cached

	before, start := db.reads.Load(), time.Now()
	const flood = 200
	unauthorized, limited := 0, 0
	for range flood {
		random, err := apikey.Generate()
		if err != nil {
			t.Fatal(err)
		}
		r := callAt(t, srv.URL, "POST", "/api/integrations/assets/create", random, body)
		switch r.Status {
		case http.StatusUnauthorized:
			unauthorized++
		case http.StatusTooManyRequests:
			expect(t, r, http.StatusTooManyRequests, "RATE_LIMITED")
			retryAfter(t, r)
			limited++
		default:
			t.Fatalf("a random key: %d %s", r.Status, r.Body)
		}
	}
	reads := db.reads.Load() - before
	// 9 lookups left of the 10, and one more for each 6 s the flood took.
	allowed := 9 + int(time.Since(start)/(6*time.Second))
	t.Logf("%d random keys: %d DynamoDB reads (%.3f a request), %d answered 401, %d 429", flood, reads, float64(reads)/flood, unauthorized, limited)
	if reads > int64(allowed) || unauthorized > allowed || limited < flood-allowed {
		t.Fatalf("%d random keys made %d reads (%d 401s), want at most %d", flood, reads, unauthorized, allowed)
	}
	expect(t, callAt(t, srv.URL, "POST", "/api/integrations/assets/create", key, body), http.StatusCreated, "")
}

// Test events are limited per webhook: the burst is queued, the next is 429
// RATE_LIMITED with Retry-After, and another webhook of the tenant is not held.
func TestTestEventRateLimitE2E(t *testing.T) {
	tid := newTenant(t, tenant.Enterprise)
	rv := newReceiver(t, nil)
	hook, _ := createWebhook(t, tid, rv.URL, "asset.created")
	other, _ := createWebhook(t, tid, rv.URL, "asset.created")
	owner := token(t, tid, "Owner")
	perMinute := stack.Config.AdminAPI.TestEventsPerMinute
	every := time.Minute / time.Duration(perMinute)

	start := time.Now()
	queued := 0
	var refused response
	for range perMinute + 5 {
		r := call(t, "POST", "/api/integrations/webhooks/"+hook+"/test", owner, nil)
		if r.Status == http.StatusTooManyRequests {
			refused = r
			break
		}
		expect(t, r, http.StatusAccepted, "")
		queued++
	}
	// One less is allowed, as in TestRateLimitPerTenantE2E.
	if refused.Status == 0 || queued < perMinute-1 || queued > perMinute+int(time.Since(start)/every) {
		t.Fatalf("%d test events queued in %v before a 429 (Retry-After %q, %s), want %d", queued, time.Since(start), refused.Header.Get("Retry-After"), refused.Body, perMinute)
	}
	expect(t, refused, http.StatusTooManyRequests, "RATE_LIMITED")
	if wait := retryAfter(t, refused); time.Duration(wait)*time.Second > every+time.Second {
		t.Fatalf("Retry-After %d s, want at most one interval (%v)", wait, every)
	}
	if got, want := refused.Header.Get("RateLimit-Policy"), fmt.Sprintf(`"test-events";q=%d;w=60`, perMinute); got != want {
		t.Fatalf("RateLimit-Policy %q, want %q", got, want)
	}
	expect(t, call(t, "POST", "/api/integrations/webhooks/"+other+"/test", owner, nil), http.StatusAccepted, "")
}

// The limiter's state is one conditional write in DynamoDB: instances that
// share nothing but the table, admitting at once, never pass the burst;
// reservations take distinct slots one interval apart; a hold refuses every
// shard until it ends. On IntegrationApiFunction's credentials (IAM enforced).
func TestRateLimitTableE2E(t *testing.T) {
	db := dynamodb.NewFromConfig(stack.Principals["IntegrationApiFunction"].AWS)
	table := func() *ratelimit.Table { return &ratelimit.Table{DB: db, Table: stack.IntegrationsTable} } // a fresh instance
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)

	t.Run("admit", func(t *testing.T) {
		l := ratelimit.Limit{Every: time.Hour, Burst: 5, Shards: 1} // nothing refills during the test
		key := ratelimit.Key{TenantID: tid, Scope: "ADMIT"}
		var admitted atomic.Int64
		var wg sync.WaitGroup
		for range 24 {
			wg.Go(func() {
				ok, _, err := ratelimit.Admit(ctx, table(), key, l, time.Now())
				if err != nil {
					t.Error(err)
				}
				if ok {
					admitted.Add(1)
				}
			})
		}
		wg.Wait()
		if n := admitted.Load(); n < 1 || n > 5 {
			t.Fatalf("24 at once admitted %d, want 1 to 5 (the burst)", n)
		}
		// Whatever contention left unclaimed is there for the asking; no more.
		total := admitted.Load()
		for range 10 {
			if ok, wait, err := ratelimit.Admit(ctx, table(), key, l, time.Now()); err != nil {
				t.Fatal(err)
			} else if ok {
				total++
			} else if wait < 50*time.Minute {
				t.Fatalf("refused with Retry-After %v, want about an hour", wait)
			}
		}
		if total < 5-1 || total > 5 { // one less, as in TestRateLimitPerTenantE2E
			t.Fatalf("admitted %d in all, want the burst of 5", total)
		}
	})

	t.Run("reserve", func(t *testing.T) {
		l := ratelimit.Limit{Every: time.Second, Burst: 1, Shards: 1}
		key := ratelimit.Key{TenantID: tid, Scope: "RESERVE"}
		var mu sync.Mutex
		var starts []time.Time
		var wg sync.WaitGroup
		begin := time.Now()
		reserve := func(lim *ratelimit.Table) bool {
			ok, start, err := lim.Reserve(ctx, key, l, 10*time.Second)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				starts = append(starts, start)
				mu.Unlock()
			}
			return ok
		}
		for range 16 {
			wg.Go(func() { reserve(table()) })
		}
		wg.Wait()
		for range 20 { // whatever contention left unclaimed, up to the horizon
			if !reserve(table()) {
				break
			}
		}
		slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
		if len(starts) < 11-1 || len(starts) > 11+int(time.Since(begin)/time.Second) { // one less, as in TestRateLimitPerTenantE2E
			t.Fatalf("%d reservations within a 10 s horizon at 1/s, want 11", len(starts))
		}
		for i := 1; i < len(starts); i++ {
			if gap := starts[i].Sub(starts[i-1]); gap < time.Second-2*time.Millisecond {
				t.Fatalf("reservations %d and %d %v apart, want one interval (1s): two took one slot", i-1, i, gap)
			}
		}
	})

	// A write that took seconds (moto stalled; on AWS, a throttled call's
	// retries) is weighed at the time it is tried again, not at the time
	// the request began: others moved the TAT meanwhile, by as little as
	// their own requests, and against the old time that looked like the
	// burst used up (one request of TestBurstDeliversExactly, 100 writes at
	// 6 a second against 100 a second, was answered 429).
	t.Run("slow", func(t *testing.T) {
		l := ratelimit.PerSecond(100, 200) // the API's default: a burst of 1.99 s
		key := ratelimit.Key{TenantID: tid, Scope: "SLOW"}
		began := time.Now()
		if ok, _, err := ratelimit.Admit(ctx, table(), key, l, time.Now()); err != nil || !ok {
			t.Fatalf("another request, now: %v %v", ok, err)
		}
		var reads atomic.Int32
		slow := table()
		slow.Now = func() time.Time { // 3 s before the other request, then the time it is
			if reads.Add(1) == 1 {
				return began.Add(-3 * time.Second)
			}
			return time.Now()
		}
		if ok, wait, err := ratelimit.Admit(ctx, slow, key, l, time.Now()); err != nil || !ok {
			t.Fatalf("a request whose first write was slow, against a limit at rest: admitted %v, retry after %v, %v", ok, wait, err)
		}
		if reads.Load() < 2 {
			t.Fatalf("the clock was read %d time(s): the test did not make the first write stale", reads.Load())
		}
	})

	// Clients sharing one instance, as a function's requests do, are never
	// refused while the burst has room: 320 admits against a burst of 400.
	// A refused write (another took the slot at rest first) goes on as the
	// relative update, which concurrent writers never refuse each other
	// (weighing each try at a fresh time instead sent refused writes back to
	// the absolute one: 63 of these 320 were refused as a busy limit).
	t.Run("contended", func(t *testing.T) {
		l := ratelimit.Limit{Every: 10 * time.Millisecond, Burst: 400, Shards: 1}
		key := ratelimit.Key{TenantID: tid, Scope: "CONTENDED"}
		shared := table()
		var refused atomic.Int32
		var wg sync.WaitGroup
		for c := range 8 {
			wg.Go(func() {
				for i := range 40 {
					time.Sleep(time.Duration((c*7+i*13)%50) * time.Millisecond) // arrivals spread as a client's are
					ok, _, err := ratelimit.Admit(ctx, shared, key, l, time.Now())
					if err != nil {
						t.Error(err)
					}
					if !ok {
						refused.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if n := refused.Load(); n != 0 {
			t.Fatalf("%d of 320 admits refused with room in the burst", n)
		}
	})

	t.Run("hold", func(t *testing.T) {
		l := ratelimit.PerSecond(1000, 1) // 4 shards: the hold must reach every one
		key := ratelimit.Key{TenantID: tid, Scope: "HOLD"}
		until := time.Now().Add(30 * time.Second)
		if err := table().Hold(ctx, key, l, until); err != nil {
			t.Fatal(err)
		}
		for range 12 {
			ok, wait, err := ratelimit.Admit(ctx, table(), key, l, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if ok || wait < 25*time.Second || wait > 31*time.Second {
				t.Fatalf("during a 30 s hold: ok=%v retry after %v", ok, wait)
			}
		}
	})
}

// The dispatcher's gate coalesces (ratelimit.Table.Coalesce): an instance's
// concurrent reservations of one limit take their slots together in one
// write. Three instances of eight at once, on DispatcherFunction's
// credentials: every slot is taken once, one interval after another, none
// beyond the horizon, and each refused one is told a time to ask again.
func TestCoalescedSlotsE2E(t *testing.T) {
	t.Parallel()
	db := dynamodb.NewFromConfig(stack.Principals["DispatcherFunction"].AWS)
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	l := ratelimit.Limit{Every: 500 * time.Millisecond, Burst: 1, Shards: 1}
	key := ratelimit.Key{TenantID: tid, Scope: "SEND#wh_coalesced"}
	const horizon = 5 * time.Second
	var mu sync.Mutex
	var starts []time.Time
	refused := 0
	var wg sync.WaitGroup
	begin := time.Now()
	for range 3 {
		instance := &ratelimit.Table{DB: db, Table: stack.IntegrationsTable, Coalesce: true}
		for range 8 {
			wg.Go(func() {
				ok, start, err := instance.Reserve(ctx, key, l, horizon)
				asked := time.Now()
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					t.Error(err)
				case ok:
					starts = append(starts, start)
				default:
					refused++
					if !start.IsZero() && start.Before(asked.Add(-time.Second)) {
						t.Errorf("a refused reservation is told to ask again at %v, before it asked", start)
					}
				}
			})
		}
	}
	wg.Wait()
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	if len(starts)+refused != 24 {
		t.Fatalf("%d taken and %d refused of 24", len(starts), refused)
	}
	// 5 s at 2/s from the first: 11 slots, and those that time has freed
	// since (the reservations took a while against moto).
	if most := 11 + int(2*time.Since(begin)/time.Second); len(starts) > most || len(starts) < 8 {
		t.Fatalf("%d slots taken within a 5 s horizon at 2/s, want 8 to %d", len(starts), most)
	}
	for i := 1; i < len(starts); i++ {
		if gap := starts[i].Sub(starts[i-1]); gap < l.Every-2*time.Millisecond {
			t.Fatalf("slots %d and %d %v apart, want one interval (%v): two took one slot", i-1, i, gap, l.Every)
		}
	}
	if last := starts[len(starts)-1]; last.After(time.Now().Add(horizon)) {
		t.Fatalf("a slot starts %v from now, beyond the %v horizon", time.Until(last), horizon)
	}
}
