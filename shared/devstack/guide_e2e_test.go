package devstack_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/uniasset/integrations/shared/apidoc"
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
	if ran != 5 {
		t.Fatalf("ran %d integration examples, want 5", ran)
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
	if !strings.HasPrefix(g.BaseURL, "http://127.0.0.1:") {
		t.Fatalf("base URL %q does not point at the local stack", g.BaseURL)
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
	expect(t, call(t, "GET", "/api/integrations/developer-guide", token(t, tid, "Admin"), nil), 403, "FORBIDDEN")
}
