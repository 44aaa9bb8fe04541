package apidoc_test

import (
	"html"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/uniasset/integrations/shared/adminapi"
	"github.com/uniasset/integrations/shared/apidoc"
	"github.com/uniasset/integrations/shared/apierror"
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
	if n, want := strings.Count(string(page), `class="copy"`), 2*len(g.Endpoints)+len(g.Operations)+len(g.Receiving.Receivers)+1; n != want { // +1: the retry script
		t.Fatalf("%d copy buttons for %d examples", n, want)
	}
	// Checking a signature by hand: every step, and the worked example's
	// inputs and signatures (the delivery package signs them the same).
	ex := g.Receiving.Verify.Example
	if !strings.Contains(string(page), `id="verify-example"`) {
		t.Error("the page has no worked example of a signature")
	}
	for _, want := range []string{ex.Secret, ex.SignedContent, ex.WebhookSignature, ex.UniAssetSignature} {
		if want == "" || !strings.Contains(string(page), html.EscapeString(want)) {
			t.Errorf("the page does not show %q", want)
		}
	}
	if len(g.Receiving.Verify.Steps) < 5 {
		t.Errorf("%d steps to check a signature", len(g.Receiving.Verify.Steps))
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

// The guide's error table covers every code the integration API answers
// with, and names only codes of the Error schema.
func TestTheGuideListsEveryIntegrationError(t *testing.T) {
	e, err := apidoc.ErrorsFor("http://127.0.0.1:3000")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[apierror.Code]bool{}
	for _, c := range e.Codes {
		listed[apierror.Code(c.Code)] = true
		if c.Status != apierror.Code(c.Code).Status() || c.When == "" || c.Retry == "" {
			t.Errorf("%+v", c)
		}
		if !slices.Contains(schemaCodes(t), c.Code) {
			t.Errorf("%s is not in the Error schema's codes", c.Code)
		}
	}
	// The admin API's own: a role (FORBIDDEN), a plan below Growth, an
	// endpoint's verification, Entra not set up.
	adminOnly := map[apierror.Code]bool{apierror.Forbidden: true, apierror.PlanUpgradeRequired: true, apierror.VerificationFailed: true, apierror.NotConfigured: true}
	for _, c := range apierror.Codes {
		if !listed[c] && !adminOnly[c] {
			t.Errorf("the integration API can answer %s; the guide does not list it", c)
		}
	}
	if !strings.Contains(e.Retry.Code, `const BASE_URL = "http://127.0.0.1:3000";`) || !strings.Contains(e.Envelope, `"fields"`) {
		t.Fatalf("the retry script's base URL or the envelope: %s / %s", e.Retry.Code[:200], e.Envelope)
	}
}

// schemaCodes are the codes the document's Error schema allows.
func schemaCodes(t *testing.T) []string {
	t.Helper()
	var doc struct {
		Components struct {
			Schemas struct {
				Error struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct {
									Enum []string `yaml:"enum"`
								} `yaml:"code"`
							} `yaml:"properties"`
						} `yaml:"error"`
					} `yaml:"properties"`
				} `yaml:"Error"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(apidoc.Document, &doc); err != nil {
		t.Fatal(err)
	}
	codes := doc.Components.Schemas.Error.Properties.Error.Properties.Code.Enum
	if len(codes) == 0 {
		t.Fatal("the Error schema lists no codes")
	}
	return codes
}

// Each endpoint's fields come from its body's schema: type (with null where
// null clears), required, limits; the asset named by assetId or externalId.
func TestEveryEndpointListsItsFields(t *testing.T) {
	g, err := apidoc.NewGuide("http://127.0.0.1:3000")
	if err != nil {
		t.Fatal(err)
	}
	byOp := map[string]map[string]apidoc.Field{}
	for _, e := range g.Endpoints {
		if len(e.Fields) == 0 {
			t.Errorf("%s lists no fields", e.OperationID)
		}
		byOp[e.OperationID] = map[string]apidoc.Field{}
		for _, f := range e.Fields {
			byOp[e.OperationID][f.Name] = f
		}
	}
	// The Owner's routes too, wherever they take a body.
	for _, o := range g.Operations {
		if (o.Body == "") != (len(o.Fields) == 0) {
			t.Errorf("%s: body %q, %d fields", o.OperationID, o.Body, len(o.Fields))
		}
		byOp[o.OperationID] = map[string]apidoc.Field{}
		for _, f := range o.Fields {
			byOp[o.OperationID][f.Name] = f
			if f.Type == "any" {
				t.Errorf("%s.%s has no type the guide can name", o.OperationID, f.Name)
			}
		}
	}
	for _, c := range []struct {
		op, field, typ string
		required       bool
		limits         string
	}{
		{"createAsset", "name", "string", true, "at most 200 characters"},
		{"createAsset", "externalId", "string", false, "at most 128 characters"},
		{"updateAsset", "description", "string or null", false, "at most 2000 characters"},
		{"updateAsset", "assetId", "string", false, "exactly one of `assetId`, `externalId`"},
		{"reportGeoPosition", "latitude", "number", true, "-90 to 90"},
		{"createApiKey", "rateLimit", "object", false, ""},
		{"createApiKey", "rateLimit.per", "string", true, "one of `second`, `minute`"},
		{"createApiKey", "allowedIps", "array of string", false, "at most 32 items"},
		{"createWebhook", "events", "array of string", true, "at least one item"},
		{"createWebhook", "filter.categoryName", "array of string", false, "1 to 50 items; each 1 to 200 characters"},
		{"putApiKeyPolicy", "maxLifetimeDays", "integer or null", true, "1 to 3660"},
	} {
		f, ok := byOp[c.op][c.field]
		if !ok || f.Type != c.typ || f.Required != c.required || f.Limits != c.limits {
			t.Errorf("%s.%s: %+v, want %s, required %v, %q", c.op, c.field, f, c.typ, c.required, c.limits)
		}
	}
}

// Every integration endpoint documents every status any write can answer:
// the envelope's codes apply to all of them (a retried update can meet an
// idempotency 409 as a create can).
func TestEveryIntegrationEndpointListsEveryWriteStatus(t *testing.T) {
	ops, err := apidoc.Operations()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range ops {
		if !slices.Contains(o.Tags, "Integration") {
			continue
		}
		n++
		for _, status := range []string{"400", "401", "403", "409", "413", "415", "429", "500", "503"} {
			if _, ok := o.Responses[status]; !ok {
				t.Errorf("%s does not document %s", o.OperationID, status)
			}
		}
	}
	if n < 8 {
		t.Fatalf("%d integration endpoints", n)
	}
}
