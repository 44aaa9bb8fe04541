// Package apidoc holds the OpenAPI document of both APIs (openapi.yaml, the
// source of truth) and generates the Developer Guide from it: copyable curl
// and JavaScript examples for every integration endpoint, as JSON and HTML.
package apidoc

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

//go:embed openapi.yaml
var Document []byte

// DocumentPath is where the admin API serves the document (no token).
const DocumentPath = "/api/integrations/openapi.yaml"

// localServer is the document's servers entry as written: make run's.
const localServer = "servers:\n  - url: http://127.0.0.1:3000\n    description: make run\n"

// DocumentFor is the document with its servers entry naming baseURL, where
// the API that serves it is reached.
func DocumentFor(baseURL string) ([]byte, error) {
	if !bytes.Contains(Document, []byte(localServer)) {
		return nil, fmt.Errorf("apidoc: the document's servers entry is not %q", localServer)
	}
	url, err := json.Marshal(baseURL) // a JSON string is a YAML scalar
	if err != nil {
		return nil, err
	}
	return bytes.Replace(Document, []byte(localServer), []byte("servers:\n  - url: "+string(url)+"\n"), 1), nil
}

// Operation is the part of an OpenAPI operation the guide uses.
type Operation struct {
	Method      string
	Path        string
	OperationID string   `yaml:"operationId"`
	Summary     string   `yaml:"summary"`
	Description string   `yaml:"description"`
	Tags        []string `yaml:"tags"`
	Permission  string   `yaml:"x-permission"`
	RequestBody *struct {
		Content map[string]struct {
			Example yaml.Node   `yaml:"example"`
			Schema  fieldSchema `yaml:"schema"`
		} `yaml:"content"`
	} `yaml:"requestBody"`
	Responses map[string]struct {
		Content map[string]struct {
			Example yaml.Node `yaml:"example"`
		} `yaml:"content"`
	} `yaml:"responses"`
}

// SuccessExample returns the documented answer of the first 2xx response
// that has one (JSON, fields in the document's order), with its status.
func (o Operation) SuccessExample() (int, json.RawMessage) {
	for _, status := range []string{"200", "201", "202"} {
		n := o.Responses[status].Content["application/json"].Example
		if n.Kind == 0 {
			continue
		}
		var b bytes.Buffer
		if writeJSON(&b, &n) != nil {
			return 0, nil
		}
		code, _ := strconv.Atoi(status)
		return code, b.Bytes()
	}
	return 0, nil
}

// Example returns the documented JSON request body with its fields in the
// document's order, or nil.
func (o Operation) Example() json.RawMessage {
	if o.RequestBody == nil {
		return nil
	}
	n := o.RequestBody.Content["application/json"].Example
	if n.Kind == 0 {
		return nil
	}
	var b bytes.Buffer
	if err := writeJSON(&b, &n); err != nil {
		return nil
	}
	return b.Bytes()
}

// writeJSON renders a YAML node as JSON, keeping mapping order.
func writeJSON(b *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		return writeJSON(b, n.Content[0])
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(n.Content[i].Value)
			b.Write(k)
			b.WriteByte(':')
			if err := writeJSON(b, n.Content[i+1]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, c); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return err
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		b.Write(raw)
	default:
		return fmt.Errorf("unsupported YAML node kind %d", n.Kind)
	}
	return nil
}

var methods = []string{"get", "post", "put", "patch", "delete"}

// Operations lists every operation in document order. The embedded document
// is parsed once per process; callers share the result and must not modify it.
var Operations = sync.OnceValues(parseOperations)

// document holds the parts of the OpenAPI document the guide reads. It is
// parsed once per process (about 7 ms), and every section of the guide
// decodes its part from that one tree.
type document struct {
	Paths      yaml.Node `yaml:"paths"`
	Webhooks   yaml.Node `yaml:"webhooks"`
	Components struct {
		Schemas yaml.Node `yaml:"schemas"`
	} `yaml:"components"`
	Delivery yaml.Node `yaml:"x-webhook-delivery"`
	Errors   yaml.Node `yaml:"x-integration-errors"`
}

var parsed = sync.OnceValues(func() (document, error) {
	var doc document
	err := yaml.Unmarshal(Document, &doc)
	return doc, err
})

func parseOperations() ([]Operation, error) {
	doc, err := parsed()
	if err != nil {
		return nil, err
	}
	var out []Operation
	for i := 0; i+1 < len(doc.Paths.Content); i += 2 {
		path, item := doc.Paths.Content[i].Value, doc.Paths.Content[i+1]
		for j := 0; j+1 < len(item.Content); j += 2 {
			method := item.Content[j].Value
			if !slices.Contains(methods, method) {
				continue
			}
			var op Operation
			if err := item.Content[j+1].Decode(&op); err != nil {
				return nil, fmt.Errorf("%s %s: %w", method, path, err)
			}
			op.Method, op.Path = strings.ToUpper(method), path
			out = append(out, op)
		}
	}
	return out, nil
}

// Example is one endpoint of the Developer Guide.
type Example struct {
	OperationID string `json:"operationId"`
	Method      string `json:"method"`
	Path        string `json:"path"`
	Summary     string `json:"summary"`
	Description string `json:"description"`
	Permission  string `json:"permission"`
	Body        string `json:"body"`
	// Fields are the body's fields: type, required, limits, what null does.
	Fields []Field `json:"fields"`
	// Status and Response are the documented answer (pretty JSON).
	Status     int    `json:"status"`
	Response   string `json:"response"`
	Curl       string `json:"curl"`
	JavaScript string `json:"javascript"`
}

// OwnerExample is one of the Owner's webhook operations in the guide: a
// curl with the admin token, and the body it sends ("" for none).
type OwnerExample struct {
	OperationID string `json:"operationId"`
	Method      string `json:"method"`
	Path        string `json:"path"`
	Summary     string `json:"summary"`
	Description string `json:"description"`
	Body        string `json:"body"`
	// Fields are the body's fields, as for an integration endpoint.
	Fields []Field `json:"fields"`
	Curl   string  `json:"curl"`
}

// Guide is the Developer Guide.
type Guide struct {
	BaseURL string `json:"baseUrl"`
	// OpenAPI is where the document the guide is made from is served.
	OpenAPI   string    `json:"openapi"`
	Auth      string    `json:"authentication"`
	Endpoints []Example `json:"endpoints"`
	// Operations are the Owner's routes for keys and webhooks (an admin
	// token, not a key): roll a key, set the key policy, pause, test,
	// verify, rotate, resend, recover... each with a curl that reads the
	// token and ids from the shell.
	Operations []OwnerExample `json:"webhookOperations"`
	// Events are the webhook events and their data, from the document's
	// webhooks section (the signed envelope: event, timestamp, data).
	Events []EventDoc `json:"events"`
	// Receiving is how to receive them: headers, rules, receivers.
	Receiving Receiving `json:"receiving"`
	// Errors are the integration API's errors and how to retry a write.
	Errors Errors `json:"errors"`
}

// NewGuide builds the guide for the integration endpoints, with examples
// pointing at baseURL. Examples read the key from $UNIASSET_API_KEY, so a
// copied command never carries a real key.
func NewGuide(baseURL string) (Guide, error) {
	ops, err := Operations()
	if err != nil {
		return Guide{}, err
	}
	g := Guide{BaseURL: baseURL, OpenAPI: baseURL + DocumentPath, Auth: "Authorization: Bearer ua_live_... (set UNIASSET_API_KEY to your key)"}
	if g.Events, err = Events(); err != nil {
		return Guide{}, err
	}
	if g.Receiving, err = Delivery(); err != nil {
		return Guide{}, err
	}
	if g.Errors, err = ErrorsFor(baseURL); err != nil {
		return Guide{}, err
	}
	for _, o := range ops {
		if slices.Contains(o.Tags, "Webhooks") || o.OperationID == "resendDelivery" || slices.Contains(o.Tags, "API keys") && o.OperationID != "reportLeakedKeys" {
			op, err := operation(baseURL, o)
			if err != nil {
				return Guide{}, err
			}
			g.Operations = append(g.Operations, op)
		}
		if !slices.Contains(o.Tags, "Integration") {
			continue
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, o.Example(), "", "  "); err != nil {
			return Guide{}, fmt.Errorf("%s example: %w", o.OperationID, err)
		}
		body := pretty.String()
		url := baseURL + o.Path
		status, answer := o.SuccessExample()
		var response bytes.Buffer
		if err := json.Indent(&response, answer, "", "  "); err != nil {
			return Guide{}, fmt.Errorf("%s: no response example: %w", o.OperationID, err)
		}
		fields, err := o.fields()
		if err != nil {
			return Guide{}, err
		}
		g.Endpoints = append(g.Endpoints, Example{
			OperationID: o.OperationID, Method: o.Method, Path: o.Path, Summary: o.Summary, Description: o.Description,
			Permission: o.Permission, Body: body, Fields: fields, Status: status, Response: response.String(),
			Curl: "curl -X " + shellQuote(o.Method) + " " + shellQuote(url) + " \\\n" +
				"  -H \"Authorization: Bearer $UNIASSET_API_KEY\" \\\n" +
				"  -H 'Content-Type: application/json' \\\n" +
				"  -d " + shellQuote(body),
			JavaScript: "const response = await fetch(" + jsString(url) + ", {\n" +
				"  method: " + jsString(o.Method) + ",\n" +
				"  headers: {\n" +
				"    \"Authorization\": `Bearer ${process.env.UNIASSET_API_KEY}`,\n" +
				"    \"Content-Type\": \"application/json\",\n" +
				"  },\n" +
				"  body: JSON.stringify(" + indent(body) + "),\n" +
				"});\n" +
				"console.log(response.status, await response.json());",
		})
	}
	return g, nil
}

// pathVars names the shell variable each path parameter is read from.
var pathVars = strings.NewReplacer(
	"/webhooks/{id}", "/webhooks/$WEBHOOK_ID", "/activity/{id}", "/activity/$ROW_ID", "{recoveryId}", "$RECOVERY_ID",
	"/api-keys/{id}", "/api-keys/$KEY_ID")

// operation is an Owner route's example: the admin token from
// $UNIASSET_TOKEN, the ids from shell variables, the documented body.
func operation(baseURL string, o Operation) (OwnerExample, error) {
	e := OwnerExample{OperationID: o.OperationID, Method: o.Method, Path: o.Path, Summary: o.Summary, Description: o.Description}
	e.Curl = "curl -X " + shellQuote(o.Method) + " " + shellQuote(baseURL) + `"` + pathVars.Replace(o.Path) + `"` +
		" \\\n  -H \"Authorization: Bearer $UNIASSET_TOKEN\""
	if body := o.Example(); body != nil {
		e.Body = string(body)
		e.Curl += " \\\n  -H 'Content-Type: application/json' \\\n  -d " + shellQuote(e.Body)
	}
	var err error
	e.Fields, err = o.fields()
	return e, err
}

// fields are the fields of o's JSON body (none without one).
func (o Operation) fields() ([]Field, error) {
	if o.RequestBody == nil {
		return nil, nil
	}
	fields, err := bodyFields(o.OperationID, o.RequestBody.Content["application/json"].Schema)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.OperationID, err)
	}
	return fields, nil
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }

// shellQuote makes s one word for a POSIX shell, whatever it holds: inside
// single quotes nothing is special but the quote itself, written '\”.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// jsString writes s as a JavaScript string literal. JSON's string syntax is
// JavaScript's, and encoding/json also escapes U+2028, U+2029, <, > and &.
func jsString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		return `""` // unreachable: every Go string marshals
	}
	return string(b)
}

// EventDoc is one webhook event as the Developer Guide shows it: what fires
// it and the fields of its data (from the document's webhooks section).
type EventDoc struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	DataFields  []string `json:"dataFields"`
}

// Events lists the document's webhooks, in document order.
var Events = sync.OnceValues(parseEvents)

func parseEvents() ([]EventDoc, error) {
	doc, err := parsed()
	if err != nil {
		return nil, err
	}
	var schemas map[string]schemaDoc
	if err := doc.Components.Schemas.Decode(&schemas); err != nil {
		return nil, err
	}
	var out []EventDoc
	for i := 0; i+1 < len(doc.Webhooks.Content); i += 2 {
		var hook struct {
			Post struct {
				Description string `yaml:"description"`
				RequestBody struct {
					Content map[string]struct {
						Schema schemaDoc `yaml:"schema"`
					} `yaml:"content"`
				} `yaml:"requestBody"`
			} `yaml:"post"`
		}
		name := doc.Webhooks.Content[i].Value
		if err := doc.Webhooks.Content[i+1].Decode(&hook); err != nil {
			return nil, fmt.Errorf("webhook %s: %w", name, err)
		}
		envelope := hook.Post.RequestBody.Content["application/json"].Schema
		var data string
		for _, part := range envelope.AllOf {
			if ref := part.Properties["data"].Ref; ref != "" {
				data = strings.TrimPrefix(ref, "#/components/schemas/")
			}
		}
		if data == "" {
			return nil, fmt.Errorf("webhook %s: no data schema", name)
		}
		out = append(out, EventDoc{Name: name, Description: hook.Post.Description, DataFields: fieldsOf(schemas, data)})
	}
	return out, nil
}

// schemaDoc is the part of a JSON schema the guide reads.
type schemaDoc struct {
	Ref        string               `yaml:"$ref"`
	AllOf      []schemaDoc          `yaml:"allOf"`
	Properties map[string]schemaDoc `yaml:"properties"`
}

// fieldsOf lists a schema's properties, those of the schemas it builds on
// first (sorted within each), without repeats.
func fieldsOf(schemas map[string]schemaDoc, name string) []string {
	s := schemas[name]
	var out []string
	for _, part := range s.AllOf {
		if part.Ref != "" {
			out = append(out, fieldsOf(schemas, strings.TrimPrefix(part.Ref, "#/components/schemas/"))...)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.Properties)) {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}
