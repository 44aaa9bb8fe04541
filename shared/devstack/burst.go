package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/tenant"
)

// Receiver is a webhook endpoint on loopback that answers by a rule and
// remembers every POST: when, and for which delivery (webhook-id).
type Receiver struct {
	*httptest.Server
	mu     sync.Mutex
	posts  []Post
	seen   map[string]int // webhook-id -> POSTs so far
	answer func(attempt int) int
}

// Post is one request a Receiver got.
type Post struct {
	ID     string
	At     time.Time
	Status int
}

// NewReceiver answers each POST with answer(n), n being how many times this
// delivery (webhook-id) has been POSTed, counting this one.
func NewReceiver(answer func(attempt int) int) *Receiver {
	r := &Receiver{seen: map[string]int{}, answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		id := req.Header.Get("webhook-id")
		r.mu.Lock()
		r.seen[id]++
		status := r.answer(r.seen[id])
		r.posts = append(r.posts, Post{ID: id, At: time.Now(), Status: status})
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	return r
}

// Posts returns what arrived so far.
func (r *Receiver) Posts() []Post {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Post(nil), r.posts...)
}

// Accepted counts the deliveries answered 2xx (by distinct id), how many
// 2xx answers there were in all, and when the last one was sent.
func (r *Receiver) Accepted() (distinct, total int, last time.Time) {
	ids := map[string]bool{}
	for _, p := range r.Posts() {
		if p.Status/100 == 2 {
			ids[p.ID] = true
			total++
			if p.At.After(last) {
				last = p.At
			}
		}
	}
	return len(ids), total, last
}

// BurstResult is what a burst of asset creates led to.
type BurstResult struct {
	Writes, Refused         int            // creates sent; answers other than 201
	RefusedAs               map[string]int // the refusals by status code or client error
	WriteTime               time.Duration  // first write sent to last answer
	Healthy, HealthyPosts   int            // distinct deliveries accepted by the healthy receiver; its 2xx answers
	Flaky, FlakyPosts       int            // the same for the receiver that fails each delivery's first attempt
	Failing, FailingRecords int            // POSTs to the always-500 receiver; its deliveries that ended failed
	// FailingAnswered and FailingUnanswered are those deliveries' recorded
	// attempts that got an HTTP status and that ended in a transport error
	// (a reset connection, a timeout: the POST may never have arrived);
	// FailingErrors counts the latter by message.
	FailingAnswered, FailingUnanswered int
	FailingErrors                      map[string]int
	Pending                            int           // deliveries still pending at the end
	HealthyLag, FlakyLag               time.Duration // last write's answer to the last accepted delivery
	DLQ                                map[string]int
	RouterCalls, DispatcherCalls       map[string]int // AWS calls made during the burst, by operation
}

// Burst creates n assets for a fresh Enterprise tenant through the gateway at
// base, from `clients` concurrent clients, with three webhooks subscribed:
// healthy (200), flaky (500 on each delivery's first attempt, then 200) and
// failing (always 500). It waits until every delivery has ended (or ctx
// ends) and reports what arrived.
func (s *Stack) Burst(ctx context.Context, base string, n, clients int) (BurstResult, error) {
	res := BurstResult{Writes: n}
	tid := fmt.Sprintf("burst-%d", time.Now().UnixNano())
	if err := (&tenant.Store{DB: s.DB, Table: s.IntegrationsTable}).Put(ctx, tenant.Profile{TenantID: tid, Name: "Burst", Plan: tenant.Enterprise}); err != nil {
		return res, err
	}
	owner, err := s.Issuer.Token(tid, "Owner", "burst", time.Hour)
	if err != nil {
		return res, err
	}
	healthy := NewReceiver(func(int) int { return 200 })
	flaky := NewReceiver(func(attempt int) int {
		if attempt == 1 {
			return 500
		}
		return 200
	})
	failing := NewReceiver(func(int) int { return 500 })
	defer healthy.Close()
	defer flaky.Close()
	defer failing.Close()
	post := func(path, bearer string, body any) (int, map[string]any, error) {
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+bearer)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m, nil
	}
	for name, rv := range map[string]*Receiver{"healthy": healthy, "flaky": flaky, "failing": failing} {
		if st, m, err := post("/api/integrations/webhooks", owner, map[string]any{"name": name, "url": rv.URL, "events": []string{"asset.created"}}); err != nil || st != 201 {
			return res, fmt.Errorf("webhook %s: %d %v %v", name, st, m, err)
		}
	}
	st, m, err := post("/api/integrations/api-keys", owner, map[string]any{"name": "burst", "permissions": []string{"asset:create"}})
	if err != nil || st != 201 {
		return res, fmt.Errorf("key: %d %v %v", st, m, err)
	}
	key, _ := m["key"].(string)

	routerBefore := s.Principals["StreamRouterFunction"].Calls.Snapshot()
	dispatcherBefore := s.Principals["DispatcherFunction"].Calls.Snapshot()
	var (
		mu        sync.Mutex
		lastWrite time.Time
		wg        sync.WaitGroup
		next      = make(chan int)
	)
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for i := range next {
				st, _, err := post("/api/integrations/assets/create", key, map[string]any{"name": "Tracker " + strconv.Itoa(i), "categoryName": "IoT", "statusName": "ACTIVE"})
				mu.Lock()
				if err != nil || st != http.StatusCreated {
					res.Refused++
					why := strconv.Itoa(st)
					if err != nil {
						why = err.Error()
					}
					if res.RefusedAs == nil {
						res.RefusedAs = map[string]int{}
					}
					res.RefusedAs[why]++
				}
				lastWrite = time.Now()
				mu.Unlock()
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	res.WriteTime = lastWrite.Sub(start)

	// Done when the stream is routed and no delivery is pending any more.
	// Reading every record is costly for moto, so it waits for the healthy
	// and flaky receivers to have everything first (or for the deadline,
	// to report what is missing).
	store := &delivery.Store{DB: s.DB, Table: s.IntegrationsTable, Shards: s.Config.Dispatcher.DeliveryShards}
	received := func() bool {
		h, _, _ := healthy.Accepted()
		f, _, _ := flaky.Accepted()
		return h >= n-res.Refused && f >= n-res.Refused
	}
	for ctx.Err() == nil && !received() {
		sleep(ctx, 100*time.Millisecond)
	}
	for {
		if err := s.StreamCaughtUp(ctx); err != nil && ctx.Err() == nil {
			return res, err
		}
		recs, err := store.Recent(context.WithoutCancel(ctx), tid, 100*n)
		if err != nil {
			return res, err
		}
		res.Pending, res.FailingRecords, res.FailingAnswered, res.FailingUnanswered, res.FailingErrors = 0, 0, 0, 0, map[string]int{}
		for _, r := range recs {
			if r.Status == delivery.Pending {
				res.Pending++
			}
			if r.Status == delivery.Failed && r.WebhookName == "failing" {
				res.FailingRecords++
				for _, a := range r.History {
					if a.StatusCode != 0 {
						res.FailingAnswered++
					} else {
						res.FailingUnanswered++
						res.FailingErrors[a.Error]++
					}
				}
			}
		}
		if res.Pending == 0 && len(recs) >= 3*(n-res.Refused) {
			break
		}
		if ctx.Err() != nil {
			break // reported as it stands: the caller sees what is missing
		}
		sleep(ctx, 500*time.Millisecond)
	}
	var hLast, fLast time.Time
	res.Healthy, res.HealthyPosts, hLast = healthy.Accepted()
	res.Flaky, res.FlakyPosts, fLast = flaky.Accepted()
	res.Failing = len(failing.Posts())
	res.HealthyLag, res.FlakyLag = max(hLast.Sub(lastWrite), 0), max(fLast.Sub(lastWrite), 0)
	res.RouterCalls = diff(s.Principals["StreamRouterFunction"].Calls.Snapshot(), routerBefore)
	res.DispatcherCalls = diff(s.Principals["DispatcherFunction"].Calls.Snapshot(), dispatcherBefore)
	res.DLQ = map[string]int{}
	for _, q := range []string{"DeliveryDLQ", "StreamDLQ"} {
		if res.DLQ[q], err = s.QueueDepth(context.WithoutCancel(ctx), q); err != nil {
			return res, err
		}
	}
	return res, nil
}

func diff(after, before map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// QueueDepth counts a template queue's messages: visible, in flight and delayed.
func (s *Stack) QueueDepth(ctx context.Context, logical string) (int, error) {
	visible, inFlight, delayed, err := s.QueueCounts(ctx, logical)
	return visible + inFlight + delayed, err
}

// QueueCounts reads a template queue's approximate message counts.
func (s *Stack) QueueCounts(ctx context.Context, logical string) (visible, inFlight, delayed int, err error) {
	out, err := sqs.NewFromConfig(s.AWS).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(s.Resources[logical].URL),
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		},
	})
	if err != nil {
		return 0, 0, 0, err
	}
	atoi := func(k sqstypes.QueueAttributeName) int { n, _ := strconv.Atoi(out.Attributes[string(k)]); return n }
	return atoi(sqstypes.QueueAttributeNameApproximateNumberOfMessages), atoi(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible),
		atoi(sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed), nil
}
