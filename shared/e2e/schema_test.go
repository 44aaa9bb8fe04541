package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/uniasset/integrations/shared/apidoc"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/tenant"
)

// documentSchemas validates real responses against the schema the OpenAPI
// document gives for their operation and status, so the document cannot
// drift from what the APIs return.
type documentSchemas struct {
	doc      map[string]any
	mu       sync.Mutex // the compiler is not safe for concurrent use; compiled schemas are
	compiler *jsonschema.Compiler
}

func (d *documentSchemas) compile(url string) (*jsonschema.Schema, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.compiler.Compile(url)
}

func loadDocumentSchemas(t *testing.T) *documentSchemas {
	t.Helper()
	d, err := documentOnce()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// documentOnce compiles openapi.yaml once for the whole test binary.
var documentOnce = sync.OnceValues(func() (*documentSchemas, error) {
	var doc any
	if err := yaml.Unmarshal(apidoc.Document, &doc); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml as JSON: %w", err)
	}
	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020) // OpenAPI 3.1 schemas are JSON Schema 2020-12
	if err := c.AddResource("urn:openapi", parsed); err != nil {
		return nil, err
	}
	return &documentSchemas{doc: doc.(map[string]any), compiler: c}, nil
})

// eventProblem says how a delivered body differs from the document's
// webhooks section for its event ("" when it matches).
func eventProblem(body []byte) string {
	d, err := documentOnce()
	if err != nil {
		return err.Error()
	}
	var env struct{ Event string }
	if err := json.Unmarshal(body, &env); err != nil || env.Event == "" {
		return "not an event envelope: " + string(body)
	}
	schema, err := d.compile("urn:openapi#/webhooks/" + pointerToken(env.Event) + "/post/requestBody/content/application~1json/schema")
	if err != nil {
		return "the document has no webhooks entry for " + env.Event + ": " + err.Error()
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return err.Error()
	}
	if err := schema.Validate(v); err != nil {
		return env.Event + " does not match the document: " + err.Error() + "\nbody: " + string(body)
	}
	return ""
}

func pointerToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// check validates r, returned by method on the documented path template.
func (d *documentSchemas) check(t *testing.T, method, path string, r response) {
	t.Helper()
	status := strconv.Itoa(r.Status)
	op, _ := d.doc["paths"].(map[string]any)[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
	if op == nil {
		t.Fatalf("%s %s is not documented", method, path)
	}
	resp, ok := op["responses"].(map[string]any)[status].(map[string]any)
	if !ok {
		t.Errorf("%s %s returned %d, which the document does not list: %s", method, path, r.Status, r.Body)
		return
	}
	ptr := "/paths/" + pointerToken(path) + "/" + strings.ToLower(method) + "/responses/" + status
	if ref, ok := resp["$ref"].(string); ok {
		ptr = strings.TrimPrefix(ref, "#")
		parts := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
		resp = d.doc[parts[0]].(map[string]any)[parts[1]].(map[string]any)[parts[2]].(map[string]any)
	}
	if resp["content"] == nil {
		if len(r.Body) != 0 {
			t.Errorf("%s %s %d: documented without a body, returned %s", method, path, r.Status, r.Body)
		}
		return
	}
	schema, err := d.compile("urn:openapi#" + ptr + "/content/application~1json/schema")
	if err != nil {
		t.Fatalf("schema of %s %s %d: %v", method, path, r.Status, err)
	}
	body, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.Body))
	if err != nil {
		t.Errorf("%s %s %d: body is not JSON: %s", method, path, r.Status, r.Body)
		return
	}
	if err := schema.Validate(body); err != nil {
		t.Errorf("%s %s %d: the response does not match the document: %v\nbody: %s", method, path, r.Status, err, r.Body)
	}
}

// TestResponsesMatchTheDocument drives every route, with successes and the
// usual errors, and validates each response against openapi.yaml.
func TestResponsesMatchTheDocument(t *testing.T) {
	t.Parallel()
	d := loadDocumentSchemas(t)
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	ops, err := apidoc.Operations()
	if err != nil {
		t.Fatal(err)
	}
	example := map[string]json.RawMessage{}
	for _, o := range ops {
		example[o.OperationID] = o.Example()
	}
	do := func(method, path, concrete, bearer string, body any) response {
		t.Helper()
		r := call(t, method, concrete, bearer, body)
		d.check(t, method, path, r)
		return r
	}

	// A receiver that always fails, so the log gets a failed delivery and a System row.
	rv := newReceiver(t, func(int) int { return http.StatusServiceUnavailable })
	hook := do("POST", "/api/integrations/webhooks", "/api/integrations/webhooks", owner,
		map[string]any{"name": "Sink", "url": rv.URL, "events": []string{"asset.created"}})
	whID := hook.json(t)["id"].(string)
	wh := "/api/integrations/webhooks/" + whID
	do("GET", "/api/integrations/webhooks", "/api/integrations/webhooks", owner, nil)
	do("GET", "/api/integrations/webhooks/{id}", wh, owner, nil)
	do("PATCH", "/api/integrations/webhooks/{id}", wh, owner, example["updateWebhook"])
	do("PATCH", "/api/integrations/webhooks/{id}", wh, owner, map[string]any{"url": "ftp://x"})
	do("GET", "/api/integrations/webhooks/{id}", "/api/integrations/webhooks/wh_missing", owner, nil)

	created := do("POST", "/api/integrations/api-keys", "/api/integrations/api-keys", owner, example["createApiKey"])
	key := created.json(t)["key"].(string)
	do("POST", "/api/integrations/api-keys", "/api/integrations/api-keys", owner, map[string]any{"name": ""})
	do("GET", "/api/integrations/api-keys", "/api/integrations/api-keys", owner, nil)

	for _, o := range ops { // document order: the create comes first
		if slices.Contains(o.Tags, "Integration") {
			do(o.Method, o.Path, o.Path, key, o.Example())
		}
	}
	do("POST", "/api/integrations/assets/create", "/api/integrations/assets/create", key, map[string]any{"name": 7})
	do("POST", "/api/integrations/assets/update", "/api/integrations/assets/update", key, map[string]any{"assetId": "asset_missing", "name": "x"})
	do("POST", "/api/integrations/assets/create", "/api/integrations/assets/create", "ua_live_"+strings.Repeat("0", 64), example["createAsset"])

	waitFor(t, 20*time.Second, "a failed delivery and its System row", func() bool {
		r := call(t, "GET", "/api/integrations/activity?source=system", owner, nil)
		return strings.Contains(string(r.Body), "webhook.failing")
	})
	do("POST", "/api/integrations/webhooks/{id}/pause", wh+"/pause", owner, nil)
	do("POST", "/api/integrations/webhooks/{id}/test", wh+"/test", owner, nil) // paused: 409
	do("POST", "/api/integrations/webhooks/{id}/resume", wh+"/resume", owner, nil)
	do("POST", "/api/integrations/webhooks/{id}/verify", wh+"/verify", owner, nil) // the failing receiver: 422
	do("POST", "/api/integrations/webhooks/{id}/rotate-secret", wh+"/rotate-secret", owner, example["rotateWebhookSecret"])
	do("POST", "/api/integrations/webhooks/{id}/rotate-secret", wh+"/rotate-secret", owner, map[string]any{"overlapHours": 99})
	rec := do("POST", "/api/integrations/webhooks/{id}/recover", wh+"/recover", owner, map[string]any{"since": isotime.Format(time.Now().Add(-time.Hour))})
	do("GET", "/api/integrations/webhooks/{id}/recoveries/{recoveryId}", rec.Header.Get("Location"), owner, nil)
	do("GET", "/api/integrations/webhooks/{id}/recoveries/{recoveryId}", wh+"/recoveries/rcv_nothing", owner, nil)
	do("POST", "/api/integrations/webhooks/{id}/recover", wh+"/recover", owner, map[string]any{"since": "then"})
	do("POST", "/api/integrations/webhooks/{id}/test", wh+"/test", owner, nil)

	page := do("GET", "/api/integrations/activity", "/api/integrations/activity", owner, nil)
	sources := map[string]bool{}
	for _, row := range page.json(t)["rows"].([]any) {
		m := row.(map[string]any)
		if sources[m["source"].(string)] {
			continue
		}
		sources[m["source"].(string)] = true
		do("GET", "/api/integrations/activity/{id}", "/api/integrations/activity/"+url.PathEscape(m["id"].(string)), owner, nil)
		if m["source"] == "Webhook" { // 202, or 409 while its attempt is in flight
			do("POST", "/api/integrations/activity/{id}/resend", "/api/integrations/activity/"+url.PathEscape(m["id"].(string))+"/resend", owner, nil)
		}
	}
	do("POST", "/api/integrations/activity/{id}/resend", "/api/integrations/activity/whk-bm8/resend", owner, nil)
	if len(sources) != 3 {
		t.Fatalf("want API, Webhook and System rows to check, got %v", sources)
	}
	do("GET", "/api/integrations/activity", "/api/integrations/activity?source=ftp", owner, nil)
	do("GET", "/api/integrations/activity", "/api/integrations/activity", token(t, tid, "Viewer"), nil)
	do("GET", "/api/integrations/activity/{id}", "/api/integrations/activity/api-0-nothing", owner, nil)
	do("GET", "/api/integrations/overview", "/api/integrations/overview", owner, nil)
	do("GET", "/api/integrations/alert-settings", "/api/integrations/alert-settings", owner, nil)
	do("PATCH", "/api/integrations/alert-settings", "/api/integrations/alert-settings", owner, example["updateAlertSettings"])
	do("PATCH", "/api/integrations/alert-settings", "/api/integrations/alert-settings", owner, map[string]any{"warrantyDays": 0})
	do("GET", "/api/integrations/alert-settings", "/api/integrations/alert-settings", token(t, newTenant(t, tenant.Growth), "Owner"), nil)
	do("GET", "/api/integrations/developer-guide", "/api/integrations/developer-guide", owner, nil)

	keyPath := "/api/integrations/api-keys/" + created.json(t)["id"].(string)
	do("PATCH", "/api/integrations/api-keys/{id}", keyPath, owner, example["updateApiKey"])
	do("PATCH", "/api/integrations/api-keys/{id}", keyPath, owner, map[string]any{"rateLimit": nil, "allowedIps": []string{}, "name": "renamed"})
	do("PATCH", "/api/integrations/api-keys/{id}", keyPath, owner, map[string]any{})                                                            // 400
	do("PATCH", "/api/integrations/api-keys/{id}", "/api/integrations/api-keys/key_00000000000000000000000000", owner, example["updateApiKey"]) // 404
	rolled := do("POST", "/api/integrations/api-keys/{id}/roll", "/api/integrations/api-keys/"+created.json(t)["id"].(string)+"/roll", owner, example["rollApiKey"])
	do("POST", "/api/integrations/api-keys/{id}/roll", "/api/integrations/api-keys/"+created.json(t)["id"].(string)+"/roll", owner, nil) // rolled: 409
	do("POST", "/api/integrations/api-keys/{id}/roll", "/api/integrations/api-keys/"+rolled.json(t)["id"].(string)+"/roll", owner, map[string]any{"overlapHours": 200})
	do("GET", "/api/integrations/api-keys", "/api/integrations/api-keys", owner, nil)
	do("POST", "/api/integrations/secret-scanning", "/api/integrations/secret-scanning", "", example["reportLeakedKeys"]) // not configured here: 404
	do("GET", "/api/integrations/api-key-policy", "/api/integrations/api-key-policy", owner, nil)
	do("PUT", "/api/integrations/api-key-policy", "/api/integrations/api-key-policy", owner, map[string]any{"maxLifetimeDays": 0})
	do("PUT", "/api/integrations/api-key-policy", "/api/integrations/api-key-policy", owner, example["putApiKeyPolicy"])
	do("GET", "/api/integrations/api-key-policy", "/api/integrations/api-key-policy", owner, nil)
	do("PUT", "/api/integrations/api-key-policy", "/api/integrations/api-key-policy", owner, map[string]any{"maxLifetimeDays": nil})
	do("POST", "/api/integrations/api-keys/{id}/revoke", "/api/integrations/api-keys/"+created.json(t)["id"].(string)+"/revoke", owner, nil)
	do("PATCH", "/api/integrations/api-keys/{id}", keyPath, owner, example["updateApiKey"]) // revoked: 409
	do("DELETE", "/api/integrations/webhooks/{id}", wh, owner, nil)
}

// The OpenAPI document is served without a token, naming this API as its
// server; the Developer Guide links it, and it is the document the guide
// and every schema test here are made from.
func TestTheOpenAPIDocumentIsServed(t *testing.T) {
	t.Parallel()
	r := call(t, "GET", apidoc.DocumentPath, "", nil)
	expect(t, r, http.StatusOK, "")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/yaml") {
		t.Fatalf("Content-Type %q", ct)
	}
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Servers []struct{ URL string }    `yaml:"servers"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	guide := call(t, "GET", "/api/integrations/developer-guide", token(t, newTenant(t, tenant.Enterprise), "Owner"), nil).json(t)
	if len(doc.Servers) != 1 || doc.Servers[0].URL != guide["baseUrl"] || guide["openapi"] != guide["baseUrl"].(string)+apidoc.DocumentPath {
		t.Fatalf("servers %v; the guide's base URL %v and link %v", doc.Servers, guide["baseUrl"], guide["openapi"])
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || doc.Paths["/api/integrations/assets/create"]["post"] == nil || doc.Paths[apidoc.DocumentPath]["get"] == nil {
		t.Fatalf("not the whole document: openapi %q, %d paths", doc.OpenAPI, len(doc.Paths))
	}
}

// Each endpoint's documented answer, which the Developer Guide shows, is
// one the document's schema for that answer accepts.
func TestTheGuidesResponseExamplesMatchTheDocument(t *testing.T) {
	t.Parallel()
	g, err := apidoc.NewGuide(server.URL)
	if err != nil {
		t.Fatal(err)
	}
	d := loadDocumentSchemas(t)
	for _, e := range g.Endpoints {
		if e.Status == 0 || e.Response == "" {
			t.Errorf("%s shows no answer", e.OperationID)
			continue
		}
		d.check(t, e.Method, e.Path, response{Status: e.Status, Body: []byte(e.Response)})
	}
}
