package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/apidoc"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/tenant"
)

// Every documented example request succeeds against the local stack with a real key.
func TestDocumentedExamplesSucceed(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	ops, err := apidoc.Operations()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]apidoc.Operation{}
	for _, o := range ops {
		byID[o.OperationID] = o
	}
	created := call(t, "POST", "/api/integrations/api-keys", owner, byID["createApiKey"].Example())
	expect(t, created, 201, "")
	key := created.json(t)["key"].(string)

	ran := 0
	for _, o := range ops { // document order: the create comes first and the rest name its externalId
		if !slices.Contains(o.Tags, "Integration") {
			continue
		}
		r := call(t, o.Method, o.Path, key, o.Example())
		if r.Status/100 != 2 {
			t.Errorf("%s example: %d %s", o.OperationID, r.Status, r.Body)
		}
		ran++
	}
	hook := call(t, "POST", "/api/integrations/webhooks", owner, byID["createWebhook"].Example())
	expect(t, hook, 201, "")
	id := hook.json(t)["id"].(string)
	expect(t, call(t, "PATCH", "/api/integrations/webhooks/"+id, owner, byID["updateWebhook"].Example()), 200, "")
	if ran != 8 {
		t.Fatalf("ran %d integration examples, want 8", ran)
	}
}

// The guide's curl commands work when pasted into a shell with the key in UNIASSET_API_KEY.
func TestGuideCurlCommandsWork(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run the guide's examples as a user would")
	}
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	key, _ := newKey(t, tid, allPermissions...)
	r := call(t, "GET", "/api/integrations/developer-guide", owner, nil)
	expect(t, r, 200, "")
	var g apidoc.Guide
	if err := json.Unmarshal(r.Body, &g); err != nil {
		t.Fatal(err)
	}
	if g.BaseURL != server.URL {
		t.Fatalf("base URL %q is not the local stack's address %s", g.BaseURL, server.URL)
	}
	for _, e := range g.Endpoints {
		cmd := exec.Command("sh", "-c", e.Curl+" --silent --show-error --fail-with-body")
		cmd.Env = append(os.Environ(), "UNIASSET_API_KEY="+key)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v: %s\n%s", e.OperationID, err, out, e.Curl)
		}
	}
	html := call(t, "GET", "/api/integrations/developer-guide", owner, nil, "Accept", "text/html")
	expect(t, html, 200, "")
	if !strings.HasPrefix(html.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(html.Body), "Developer Guide") {
		t.Fatalf("HTML guide: %s", html.Header.Get("Content-Type"))
	}
	if html.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(html.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("HTML guide may be sniffed or framed: %v", html.Header)
	}
	expect(t, call(t, "GET", "/api/integrations/developer-guide", token(t, tid, "Admin"), nil), 403, "FORBIDDEN")
}

// The guide's base URL comes from configuration: a request's Host header,
// which the client chooses, changes nothing in it.
func TestGuideIgnoresTheHostHeader(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	for _, host := range []string{`x$(id);id'`, "127.0.0.1.evil.example", "evil.example", "localhost:1"} {
		req, err := http.NewRequest("GET", server.URL+"/api/integrations/developer-guide", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+owner)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("Host %q: %d %s", host, resp.StatusCode, body)
		}
		var g apidoc.Guide
		if err := json.Unmarshal(body, &g); err != nil {
			t.Fatal(err)
		}
		if g.BaseURL != server.URL || strings.Contains(string(body), host) {
			t.Errorf("Host %q reached the guide: base URL %q", host, g.BaseURL)
		}
	}
}

// The guide's key and webhook operations work when pasted into a shell
// with the Owner's token and the ids they name set, in the order an Owner
// would use them; every operation the guide shows is run.
func TestGuideWebhookOperationsWork(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	rv := newReceiver(t, nil)
	hook, _ := createWebhook(t, tid, rv.URL, "asset.created")
	key, _ := newKey(t, tid, "asset:create")
	createAsset(t, key, nil)
	settled(t, tid)
	var g apidoc.Guide
	if err := json.Unmarshal(call(t, "GET", "/api/integrations/developer-guide", owner, nil).Body, &g); err != nil {
		t.Fatal(err)
	}
	_, keyID := newKey(t, tid, "asset:create")
	env := map[string]string{"UNIASSET_TOKEN": owner, "WEBHOOK_ID": hook, "ROW_ID": asString(deliveryRow(t, tid)["id"]), "KEY_ID": keyID}
	byID := map[string]apidoc.OwnerExample{}
	for _, o := range g.Operations {
		byID[o.OperationID] = o
	}
	order := []string{"listApiKeys", "createApiKey", "getApiKeyPolicy", "putApiKeyPolicy", "updateApiKey", "rollApiKey", "revokeApiKey",
		"listWebhooks", "createWebhook", "getWebhook", "updateWebhook", "testWebhook", "verifyWebhook", "pauseWebhook",
		"resumeWebhook", "rotateWebhookSecret", "resendDelivery", "recoverWebhook", "getRecovery", "deleteWebhook"}
	if len(order) != len(byID) {
		t.Fatalf("the guide shows %d operations; this test runs %d", len(byID), len(order))
	}
	for _, id := range order {
		o, ok := byID[id]
		if !ok {
			t.Fatalf("the guide does not show %s", id)
		}
		// The documented recovery window is a fixed date; run it within the 14 days.
		curl := strings.ReplaceAll(o.Curl, "2026-12-01T00:00:00Z", isotime.Format(time.Now().Add(-time.Hour)))
		cmd := exec.Command("sh", "-c", curl+" --silent --show-error --fail-with-body")
		cmd.Env = os.Environ()
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s\n%s", id, err, out, curl)
		}
		var answer struct{ ID string }
		if json.Unmarshal(out, &answer) == nil && strings.HasPrefix(answer.ID, "rcv_") {
			env["RECOVERY_ID"] = answer.ID
		}
	}
	expect(t, call(t, "GET", "/api/integrations/webhooks/"+hook, owner, nil), 404, "NOT_FOUND")
}
