package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/apikey"
	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/devstack"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/tenant"
)

var (
	stack  *devstack.Stack
	server *httptest.Server
	seq    atomic.Int64
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	// The gateway's address is known before the stack starts, so the stack is
	// configured with it (PUBLIC_API_URL), as make run does.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "listening:", err)
		os.Exit(1)
	}
	s, stop, err := devstack.StartForTests(ctx, map[string]string{"PUBLIC_API_URL": "http://" + ln.Addr().String()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the local stack:", err)
		os.Exit(1)
	}
	stack = s
	server = &httptest.Server{Listener: ln, Config: &http.Server{Handler: s.Gateway}}
	server.Start()
	code := m.Run()
	if code != 0 && s.Moto != nil && s.Moto.Log != "" {
		// moto's log goes with the stack's temporary directory: what it
		// logged (a request it failed, a traceback) is evidence of a failure.
		if out, err := os.ReadFile(s.Moto.Log); err == nil {
			fmt.Fprintf(os.Stderr, "---- moto's log (%d bytes; the last 20,000) ----\n%s\n", len(out), out[max(0, len(out)-20_000):])
		}
	}
	server.Close()
	stop()
	os.Exit(code)
}

// newTenant seeds a tenant of its own for one test, so tests never see each other's data.
func newTenant(t *testing.T, plan tenant.Plan) string {
	t.Helper()
	id := fmt.Sprintf("t%d-%d", time.Now().UnixNano()%1_000_000, seq.Add(1))
	store := &tenant.Store{DB: stack.DB, Table: stack.IntegrationsTable}
	if err := store.Put(context.Background(), tenant.Profile{TenantID: id, Name: t.Name(), Plan: plan}); err != nil {
		t.Fatal(err)
	}
	return id
}

func token(t *testing.T, tenantID, role string) string {
	t.Helper()
	tok, err := stack.Issuer.Token(tenantID, role, "user-"+strings.ToLower(role), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// code returns the error code of an error response, or "".
func (r response) code(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// call sends a request through the local gateway; body may be a string, []byte or any JSON value.
func call(t *testing.T, method, path, bearer string, body any, headers ...string) response {
	t.Helper()
	return callAt(t, server.URL, method, path, bearer, body, headers...)
}

// callAt is call against another gateway.
func callAt(t *testing.T, base, method, path, bearer string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

func expect(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	if code != "" {
		if got := r.code(t); got != code {
			t.Fatalf("error code = %q, want %q; body %s", got, code, r.Body)
		}
	}
}

var allPermissions = func() (out []string) {
	for _, p := range apikey.Permissions {
		out = append(out, string(p))
	}
	return out
}()

// newKey creates a key through the admin API as the tenant's Owner and returns the full key and its id.
func newKey(t *testing.T, tenantID string, perms ...string) (key, id string) {
	t.Helper()
	if perms == nil {
		perms = []string{}
	}
	r := call(t, "POST", "/api/integrations/api-keys", token(t, tenantID, "Owner"), map[string]any{"name": "key " + t.Name(), "permissions": perms})
	expect(t, r, http.StatusCreated, "")
	m := r.json(t)
	return m["key"].(string), m["id"].(string)
}

func createAsset(t *testing.T, key string, body map[string]any) map[string]any {
	t.Helper()
	if body == nil {
		body = map[string]any{"name": "Forklift " + t.Name(), "categoryName": "Vehicles", "statusName": "ACTIVE"}
	}
	r := call(t, "POST", "/api/integrations/assets/create", key, body)
	expect(t, r, http.StatusCreated, "")
	return r.json(t)
}

// assetItem reads an asset's item straight from AssetsTable (nil when absent).
func assetItem(t *testing.T, tenantID, assetID string) map[string]types.AttributeValue {
	t.Helper()
	out, err := stack.DB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(stack.AssetsTable), ConsistentRead: aws.Bool(true),
		Key: keyschema.Asset(tenantID, assetID).Attrs(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

// tenantAssetCount counts the tenant's asset items in AssetsTable (a Scan: tests only).
func tenantAssetCount(t *testing.T, tenantID string) int {
	t.Helper()
	n := 0
	p := dynamodb.NewScanPaginator(stack.DB, &dynamodb.ScanInput{
		TableName:        aws.String(stack.AssetsTable),
		FilterExpression: aws.String("tenantId = :t AND SK = :sk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":t": &types.AttributeValueMemberS{Value: tenantID}, ":sk": &types.AttributeValueMemberS{Value: "ASSET"},
		},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Items)
	}
	return n
}

func str(av types.AttributeValue) string {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return v.Value
	}
	return ""
}

// sampleAsset is asset.created's data for events a test makes itself.
func sampleAsset() asset.Asset {
	const at = "2026-11-22T08:00:00.000Z"
	return asset.Asset{AssetID: "asset_sample", AssetName: "Sample", CategoryName: "Vehicles", StatusName: "ACTIVE", Version: 1, CreatedAt: at, UpdatedAt: at}
}
