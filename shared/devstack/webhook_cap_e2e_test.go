package devstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/tenant"
	"github.com/uniasset/integrations/shared/webhook"
)

// The webhook cap holds when creates race: listing, then writing, once let
// 20 concurrent creates at 40 webhooks end at 60.
func TestWebhookCapHoldsUnderConcurrentCreates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		before    int
		uncounted bool // webhooks from before the count existed
	}{
		{"counted", 40, false},
		{"count made on first use", 45, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tid := newTenant(t, tenant.Enterprise)
			tok := token(t, tid, "Owner")
			for i := range tc.before {
				createWebhook(t, tid, fmt.Sprintf("http://127.0.0.1:9/before-%d", i), "warranty.expiring")
			}
			if tc.uncounted {
				_, err := stack.DB.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(stack.Config.IntegrationsTable), Key: map[string]types.AttributeValue{
					"PK": &types.AttributeValueMemberS{Value: "TENANT#" + tid}, "SK": &types.AttributeValueMemberS{Value: "WEBHOOKS"},
				}})
				if err != nil {
					t.Fatal(err)
				}
			}

			const racers = 20
			statuses := make([]int, racers)
			var wg sync.WaitGroup
			for i := range racers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i] = postWebhook(tok, fmt.Sprintf("http://127.0.0.1:9/racer-%d", i))
				}()
			}
			wg.Wait()
			created, refused := 0, 0
			for _, s := range statuses {
				switch s {
				case http.StatusCreated:
					created++
				case http.StatusConflict:
					refused++
				default:
					t.Errorf("a racing create answered %d", s)
				}
			}
			if want := webhook.MaxPerTenant - tc.before; created != want || refused != racers-want {
				t.Errorf("%d created and %d refused, want %d and %d", created, refused, want, racers-want)
			}
			hooks := listWebhooks(t, tok)
			if len(hooks) != webhook.MaxPerTenant {
				t.Fatalf("the tenant has %d webhooks, cap %d", len(hooks), webhook.MaxPerTenant)
			}

			// A delete makes room for exactly one more.
			expect(t, call(t, "DELETE", "/api/integrations/webhooks/"+hooks[0], tok, nil), http.StatusNoContent, "")
			if s := postWebhook(tok, "http://127.0.0.1:9/after-delete"); s != http.StatusCreated {
				t.Fatalf("create after a delete: %d", s)
			}
			r := call(t, "POST", "/api/integrations/webhooks", tok, map[string]any{"name": "one too many", "url": "http://127.0.0.1:9/x", "events": []string{"warranty.expiring"}})
			expect(t, r, http.StatusConflict, "CONFLICT")
			// Deleting what is gone changes no count.
			expect(t, call(t, "DELETE", "/api/integrations/webhooks/"+hooks[0], tok, nil), http.StatusNotFound, "")
			if s := postWebhook(tok, "http://127.0.0.1:9/x"); s != http.StatusConflict {
				t.Fatalf("a second delete of one webhook made room: %d", s)
			}
		})
	}
}

// postWebhook creates a webhook and returns the status (safe off the test goroutine).
func postWebhook(tok, url string) int {
	body, _ := json.Marshal(map[string]any{"name": "racer", "url": url, "events": []string{"warranty.expiring"}})
	req, _ := http.NewRequest("POST", server.URL+"/api/integrations/webhooks", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func listWebhooks(t *testing.T, tok string) []string {
	t.Helper()
	r := call(t, "GET", "/api/integrations/webhooks", tok, nil)
	expect(t, r, http.StatusOK, "")
	var page struct {
		Webhooks []struct {
			ID string `json:"id"`
		} `json:"webhooks"`
	}
	if err := json.Unmarshal(r.Body, &page); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(page.Webhooks))
	for i, h := range page.Webhooks {
		ids[i] = h.ID
	}
	return ids
}

// An edit read before a delivery's outcome was recorded must not put the old
// health back: the dispatcher writes health without touching updatedAt, so
// the edit's version check cannot see it, and the edit sets only its fields.
func TestWebhookEditKeepsHealthWrittenMeanwhile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	whID, _ := createWebhook(t, tid, "http://127.0.0.1:9/edit", "asset.created")
	store := adminAPI(t).Webhooks
	read, err := store.Get(ctx, tid, whID) // what the editor sees: a new webhook
	if err != nil {
		t.Fatal(err)
	}
	if err := store.RecordOutcome(ctx, read, webhook.OutcomeFailed, time.Now(), "asset.created attempt 1 failed: HTTP 500"); err != nil {
		t.Fatal(err)
	}
	prev := read.UpdatedAt
	read.Name, read.UpdatedAt = "renamed", isotime.Format(time.Now().Add(time.Millisecond))
	if err := store.Replace(ctx, read, prev); err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(ctx, tid, whID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "renamed" || got.LastDeliveryStatus != webhook.OutcomeFailed || got.Health() != "failing" {
		t.Fatalf("after the edit: name %q, last delivery %q, health %q; want renamed, failed, failing", got.Name, got.LastDeliveryStatus, got.Health())
	}
	if got.Secret == "" {
		t.Fatal("the edit lost the signing secret")
	}
}
