package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/uniasset/integrations/shared/compact"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/devstack"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/safehttp"
	"github.com/uniasset/integrations/shared/sealing"
	"github.com/uniasset/integrations/shared/tenant"
	"github.com/uniasset/integrations/shared/webhook"
)

// cannedTable answers the dispatcher's reads with one prepared record,
// webhook and tenant profile (items[0], [1] and [2]) and accepts every write: the dispatcher's
// own cost, without storage.
type cannedTable struct {
	dynamo.API
	items []map[string]types.AttributeValue
}

func (c *cannedTable) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	out := map[string][]map[string]types.AttributeValue{}
	for table := range in.RequestItems {
		out[table] = c.items
	}
	return &dynamodb.BatchGetItemOutput{Responses: out}, nil
}

// GetItem answers the dispatcher's fresh read of the webhook's health.
func (c *cannedTable) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{Item: c.items[1]}, nil
}

func (c *cannedTable) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return &dynamodb.UpdateItemOutput{}, nil
}

type noQueue struct{}

func (noQueue) SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	return &sqs.SendMessageBatchOutput{}, nil
}
func (noQueue) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return &sqs.SendMessageOutput{}, nil
}
func (noQueue) ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func countingReceiver() (*httptest.Server, *atomic.Int64, func() []string) {
	var n atomic.Int64
	var mu sync.Mutex
	var ids []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n.Add(1)
		mu.Lock()
		ids = append(ids, r.Header.Get("webhook-id"))
		mu.Unlock()
	}))
	return srv, &n, func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(ids) }
}

// deliveryThroughput compares one dispatcher (batches of 10, concurrency 10,
// storage answered in memory) with a plain client loop posting the same body.
func deliveryThroughput(doc *bytes.Buffer) error {
	const n, conc = 5000, 10
	srv, got, _ := countingReceiver()
	defer srv.Close()
	body := []byte(`{"event":"asset.created","timestamp":"2026-11-22T08:00:00.000Z","data":{"assetId":"asset_1","assetName":"Forklift A-17","categoryName":"Vehicles","statusName":"ACTIVE"}}`)

	client := safehttp.Policy{AllowPrivate: true}.Client(10 * time.Second)
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= n {
				resp, err := client.Post(srv.URL, "application/json", bytes.NewReader(body))
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	plain := float64(n) / time.Since(start).Seconds()

	sealer, _ := sealing.New(strings.Repeat("k", 64))
	hooks := &webhook.Store{Sealer: sealer}
	secret, _ := webhook.NewSecret()
	w := webhook.Webhook{TenantID: "t1", ID: "wh_1", Name: "bench", URL: srv.URL, Events: []string{"asset.created"}, Status: webhook.Active,
		Secret: secret, Headers: map[string]string{}, LastDeliveryStatus: "delivered", LastDeliveryAt: time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)}
	hookItem, err := sealedItem(hooks, w)
	if err != nil {
		return err
	}
	rec := delivery.Record{TenantID: "t1", DeliveryID: "msg_bench", WebhookID: "wh_1", Event: "asset.created", Payload: compact.Text(body), Status: delivery.Pending, SK: "s#msg_bench"}
	recItem, _ := attributevalue.MarshalMap(rec)
	recItem["PK"] = &types.AttributeValueMemberS{Value: keyschema.DeliveryPK(rec.TenantID, delivery.Shard(rec.DeliveryID, 8))}
	profile, _ := attributevalue.MarshalMap(tenant.Profile{TenantID: "t1", Plan: tenant.Enterprise})
	for k, v := range keyschema.Profile("t1").Attrs() {
		profile[k] = v
	}
	table := &cannedTable{items: []map[string]types.AttributeValue{recItem, hookItem, profile}}
	d := &delivery.Dispatcher{
		Deliveries: &delivery.Store{DB: table, Table: "t", Shards: 8}, Webhooks: &webhook.Store{DB: table, Table: "t", Sealer: sealer},
		Plans: &tenant.Store{DB: table, Table: "t"},
		Queue: &delivery.Queue{SQS: noQueue{}}, Client: safehttp.Policy{AllowPrivate: true}.Client(10 * time.Second),
		Timeout: 10 * time.Second, Schedule: []time.Duration{time.Second}, Now: time.Now, Concurrency: conc,
	}
	msg, _ := json.Marshal(rec.Key())
	before := got.Load()
	start = time.Now()
	for i := 0; i < n; i += 10 {
		ev := events.SQSEvent{}
		for j := range 10 {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: strconv.Itoa(i + j), Body: string(msg)})
		}
		if _, err := d.Handle(context.Background(), ev); err != nil {
			return err
		}
	}
	disp := float64(n) / time.Since(start).Seconds()
	if sent := got.Load() - before; sent != n {
		return fmt.Errorf("dispatcher sent %d of %d", sent, n)
	}
	fmt.Fprintf(doc, `
## Webhook deliveries per second

Method: %d POSTs of the same 180-byte payload to a receiver on loopback that answers 200 at once.
"Plain loop": %d goroutines posting with the dispatcher's HTTP client (the ceiling of this machine).
"Dispatcher": one DispatcherFunction handler fed SQS batches of 10 (concurrency %d), each message
signed (both schemes), sent and recorded, with DynamoDB answered from memory so the figure is the
dispatcher's own cost. Against moto, storage dominates: see the latency section.

| sender | deliveries/s | vs plain loop |
|---|---:|---:|
| plain Go client loop | %.0f | 1.00 |
| dispatcher | %.0f | **%.2f** |
`, n, conc, conc, plain, disp, disp/plain)
	return nil
}

func sealedItem(s *webhook.Store, w webhook.Webhook) (map[string]types.AttributeValue, error) {
	raw, _ := json.Marshal(map[string]any{"secret": w.Secret, "headers": w.Headers})
	sealed, err := s.Sealer.Seal(raw, "webhook:"+w.TenantID+":"+w.ID)
	if err != nil {
		return nil, err
	}
	w.Sealed = sealed
	item, err := attributevalue.MarshalMap(w)
	if err != nil {
		return nil, err
	}
	for k, v := range keyschema.Webhook(w.TenantID, w.ID).Attrs() {
		item[k] = v
	}
	return item, nil
}

// writeToReceiverLatency creates assets one at a time through the local
// stack's HTTP route and times each until its webhook arrives.
func writeToReceiverLatency(doc *bytes.Buffer, stack *devstack.Stack, gateway *httptest.Server, key, ownerToken string) error {
	const samples = 100
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	rv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct {
			Data struct {
				AssetID string `json:"assetId"`
			} `json:"data"`
		}
		_ = json.NewDecoder(r.Body).Decode(&p)
		mu.Lock()
		arrived[p.Data.AssetID] = time.Now()
		mu.Unlock()
	}))
	defer rv.Close()
	if _, err := post(gateway.URL+"/api/integrations/webhooks", ownerToken, fmt.Sprintf(`{"name":"latency","url":%q,"events":["asset.created"]}`, rv.URL)); err != nil {
		return err
	}
	var lat []float64
	for i := range samples {
		t0 := time.Now()
		resp, err := post(gateway.URL+"/api/integrations/assets/create", key, fmt.Sprintf(`{"name":"Latency %d","categoryName":"IoT","statusName":"ACTIVE"}`, i))
		if err != nil {
			return err
		}
		var a struct {
			AssetID string `json:"assetId"`
		}
		_ = json.Unmarshal(resp, &a)
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			at, ok := arrived[a.AssetID]
			mu.Unlock()
			if ok {
				lat = append(lat, float64(at.Sub(t0).Microseconds())/1000)
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("asset %s never arrived", a.AssetID)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	slices.Sort(lat)
	pct := func(p int) float64 { return lat[min(len(lat)-1, len(lat)*p/100)] }
	fmt.Fprintf(doc, `
## Latency from an asset write to the receiver

Method: %d assets created one after another through the local stack's HTTP route (API key,
moto); each is timed from the request's start until its asset.created webhook reaches a receiver
on loopback. The path is the production one — AssetsTable stream → StreamRouter → SQS →
Dispatcher — driven by the local stack's pollers, which poll the stream every 100 ms when idle and
long-poll SQS; on AWS the event source mappings take their place.

| p50 | p95 | p99 |
|---:|---:|---:|
| %.0f ms | %.0f ms | %.0f ms |
`, samples, pct(50), pct(95), pct(99))
	return nil
}

func post(url, bearer, body string) ([]byte, error) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s: %d %s", url, resp.StatusCode, raw)
	}
	return raw, nil
}
