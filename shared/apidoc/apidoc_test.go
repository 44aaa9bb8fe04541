package apidoc_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/uniasset/integrations/shared/adminapi"
	"github.com/uniasset/integrations/shared/apidoc"
	"github.com/uniasset/integrations/shared/httpapi"
	"github.com/uniasset/integrations/shared/integrationapi"
	"github.com/uniasset/integrations/shared/webhook"
)

func key(r httpapi.Route) string { return r.Method + " " + r.Pattern }

// Every route a router serves is documented, and nothing undocumented is served.
func TestDocumentCoversEveryRoute(t *testing.T) {
	ops, err := apidoc.Operations()
	if err != nil {
		t.Fatal(err)
	}
	var documented []httpapi.Route
	for _, o := range ops {
		documented = append(documented, httpapi.Route{Method: o.Method, Pattern: o.Path})
	}
	var served, doc []string
	for _, r := range append(slices.Clone(integrationapi.Routes), adminapi.Routes...) {
		served = append(served, key(r))
	}
	for _, r := range documented {
		doc = append(doc, key(r))
	}
	slices.Sort(served)
	slices.Sort(doc)
	for _, s := range served {
		if !slices.Contains(doc, s) {
			t.Errorf("served but not in openapi.yaml: %s", s)
		}
	}
	for _, d := range doc {
		if !slices.Contains(served, d) {
			t.Errorf("in openapi.yaml but not served: %s", d)
		}
	}
}

func TestGuideHasEveryIntegrationEndpoint(t *testing.T) {
	g, err := apidoc.NewGuide("http://127.0.0.1:3000")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Endpoints) != len(integrationapi.Routes) {
		t.Fatalf("guide has %d endpoints, the integration API %d", len(g.Endpoints), len(integrationapi.Routes))
	}
	for _, e := range g.Endpoints {
		if e.Permission == "" || e.Body == "null" || !strings.Contains(e.Curl, "$UNIASSET_API_KEY") || !strings.Contains(e.JavaScript, "fetch(") {
			t.Errorf("%s: incomplete example %+v", e.Path, e)
		}
	}
	// The Owner's webhook operations (admin routes), each with a curl that
	// takes the admin token and the ids from the shell.
	ops := map[string]bool{}
	for _, o := range g.Operations {
		ops[o.OperationID] = true
		if !strings.Contains(o.Curl, "$UNIASSET_TOKEN") || strings.Contains(o.Curl, "{id}") || strings.Contains(o.Curl, "{recoveryId}") || o.OperationID == "reportLeakedKeys" {
			t.Errorf("%s: %s", o.OperationID, o.Curl)
		}
	}
	for _, want := range []string{"createWebhook", "pauseWebhook", "resumeWebhook", "testWebhook", "verifyWebhook", "rotateWebhookSecret", "recoverWebhook", "getRecovery", "resendDelivery",
		"createApiKey", "rollApiKey", "revokeApiKey", "putApiKeyPolicy"} {
		if !ops[want] {
			t.Errorf("the guide does not show %s", want)
		}
	}
	page, err := apidoc.HTML(g)
	if err != nil {
		t.Fatal(err)
	}
	if n, want := strings.Count(string(page), `class="copy"`), 2*len(g.Endpoints)+len(g.Operations)+len(g.Receiving.Receivers); n != want {
		t.Fatalf("%d copy buttons for %d examples", n, want)
	}
}

// The base URL comes from the request's Host header: everything is escaped,
// and only description code spans become markup.
func TestHTMLEscapesEverything(t *testing.T) {
	page, err := apidoc.HTML(apidoc.Guide{BaseURL: `http://x"><script>alert(1)</script>`, Auth: "a<b", Endpoints: []apidoc.Example{{
		OperationID: `op" onclick="x`, Summary: "<i>s</i>", Method: "POST", Path: "/p?a=1&b=2",
		Description: "use `x<y>` & <b>not this</b>", Permission: "p", Curl: "curl 'a' && echo \"<x>\"", JavaScript: "a < b",
	}}})
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for _, bad := range []string{"<script>alert", `"><script`, "<i>s</i>", "<b>not this</b>", `onclick="x`, "&& echo", "a < b"} {
		if strings.Contains(s, bad) {
			t.Errorf("page contains %q unescaped", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "<code>x&lt;y&gt;</code> &amp; &lt;b&gt;not this&lt;/b&gt;", "/p?a=1&amp;b=2", `id="op&#34; onclick=&#34;x"`} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// The guide lists every event of the catalogue with the fields of its data,
// as the document's webhooks section describes them.
func TestGuideListsEveryEventWithItsData(t *testing.T) {
	evs, err := apidoc.Events()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]apidoc.EventDoc{}
	for _, e := range evs {
		byName[e.Name] = e
	}
	for _, e := range webhook.Events {
		doc, ok := byName[e.Name]
		if !ok || doc.Description == "" || len(doc.DataFields) == 0 {
			t.Errorf("%s: %+v", e.Name, doc)
		}
	}
	if len(evs) != len(webhook.Events) {
		t.Errorf("%d events documented, %d in the catalogue", len(evs), len(webhook.Events))
	}
	due := byName["maintenance.due_soon"].DataFields
	for _, f := range []string{"assetId", "assetName", "externalId", "dueDate", "daysRemaining", "maintenance"} {
		if !slices.Contains(due, f) {
			t.Errorf("maintenance.due_soon's data lacks %s: %v", f, due)
		}
	}
	g, err := apidoc.NewGuide("https://api.example")
	if err != nil {
		t.Fatal(err)
	}
	page, err := apidoc.HTML(g)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "<code>warranty.expiring</code>") || !strings.Contains(string(page), "daysRemaining") {
		t.Error("the page does not show the alert events and their data")
	}
}
