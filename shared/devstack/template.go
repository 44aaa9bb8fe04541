// Package devstack is the local stack: it starts moto when no AWS endpoint is
// given, creates the resources template.yaml declares, seeds demo tenants,
// issues local tokens, and serves the template's HTTP API routes by calling
// the same handlers the Lambdas run. Integration tests use it too.
package devstack

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Template is the part of template.yaml the local stack reads.
type Template struct {
	Parameters map[string]struct {
		Default any `yaml:"Default"`
	} `yaml:"Parameters"`
	Globals struct {
		Function struct {
			Timeout     int `yaml:"Timeout"`
			MemorySize  int `yaml:"MemorySize"`
			Environment struct {
				Variables map[string]any `yaml:"Variables"`
			} `yaml:"Environment"`
		} `yaml:"Function"`
	} `yaml:"Globals"`
	Resources map[string]Resource `yaml:"Resources"`
	// Stack is the local stack's name (Create's prefix): AWS::StackName.
	Stack string `yaml:"-"`
}

// FunctionVariables is the Environment.Variables a function sets itself.
func (t *Template) FunctionVariables(fn string) map[string]any {
	env, _ := t.Resources[fn].Properties["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	return vars
}

// lambdaDefaultTimeout is Lambda's Timeout when neither the function nor Globals set one.
const lambdaDefaultTimeout = 3 * time.Second

// Timeout is fn's effective Timeout, as CloudFormation resolves it: the
// function's own, else Globals', else Lambda's default.
func (t *Template) Timeout(fn string) time.Duration {
	if n, ok := t.Resources[fn].Properties["Timeout"].(int); ok && n > 0 {
		return time.Duration(n) * time.Second
	}
	if n := t.Globals.Function.Timeout; n > 0 {
		return time.Duration(n) * time.Second
	}
	return lambdaDefaultTimeout
}

// lambdaDefaultMemory is Lambda's MemorySize (MB) when neither the function nor Globals set one.
const lambdaDefaultMemory = 128

// Memory is fn's effective MemorySize in MB, resolved as Timeout is: what
// Lambda bills its duration by.
func (t *Template) Memory(fn string) int {
	if n, ok := t.Resources[fn].Properties["MemorySize"].(int); ok && n > 0 {
		return n
	}
	if n := t.Globals.Function.MemorySize; n > 0 {
		return n
	}
	return lambdaDefaultMemory
}

// Resource is one entry of Resources; Properties stays generic.
type Resource struct {
	Type       string         `yaml:"Type"`
	Properties map[string]any `yaml:"Properties"`
}

// LoadTemplate reads and parses a SAM template, turning CloudFormation's short
// tags (!Ref X, !GetAtt A.B, !Sub ..., !If [...]) into their long forms.
func LoadTemplate(path string) (*Template, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	expandTags(&root)
	var t Template
	if err := root.Decode(&t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &t, nil
}

// expandTags rewrites `!Name value` nodes into `{Fn::Name: value}` (Ref stays Ref).
func expandTags(n *yaml.Node) {
	for _, c := range n.Content {
		expandTags(c)
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return
	}
	name := strings.TrimPrefix(n.Tag, "!")
	if name != "Ref" && name != "Condition" {
		name = "Fn::" + name
	}
	value := *n
	value.Tag = ""
	if name == "Fn::GetAtt" && value.Kind == yaml.ScalarNode {
		// !GetAtt A.B is short for [A, B].
		a, b, _ := strings.Cut(value.Value, ".")
		value = yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Value: a}, {Kind: yaml.ScalarNode, Value: b},
		}}
	}
	*n = yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: name}, &value}}
}

// Route is one HttpApi event of a function.
type Route struct {
	Function string
	Method   string // "" for the $default route
	Path     string // "" for the $default route
	JWT      bool   // behind the JWT authorizer
	// Timeout is the function's template Timeout (0: no limit, for
	// gateways built by hand).
	Timeout time.Duration
}

// Routes lists every HttpApi event of every function in the template.
func (t *Template) Routes() []Route {
	var out []Route
	for name, r := range t.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		events, _ := r.Properties["Events"].(map[string]any)
		for _, e := range events {
			ev, _ := e.(map[string]any)
			if ev["Type"] != "HttpApi" {
				continue
			}
			props, _ := ev["Properties"].(map[string]any)
			route := Route{Function: name, Timeout: t.Timeout(name)}
			route.Method, _ = props["Method"].(string)
			route.Path, _ = props["Path"].(string)
			route.Method = strings.ToUpper(route.Method)
			if auth, ok := props["Auth"].(map[string]any); ok {
				authorizer, _ := auth["Authorizer"].(string)
				route.JWT = authorizer != "" && authorizer != "NONE"
			}
			out = append(out, route)
		}
	}
	return out
}

// Event is one entry of a function's Events: its type (HttpApi, DynamoDB,
// SQS, ScheduleV2) and properties.
type Event struct {
	Name       string
	Type       string
	Properties map[string]any
}

// Events lists fn's events, by name.
func (t *Template) Events(fn string) []Event {
	evs, _ := t.Resources[fn].Properties["Events"].(map[string]any)
	var out []Event
	for name, e := range evs {
		ev, _ := e.(map[string]any)
		typ, _ := ev["Type"].(string)
		props, _ := ev["Properties"].(map[string]any)
		out = append(out, Event{Name: name, Type: typ, Properties: props})
	}
	slices.SortFunc(out, func(a, b Event) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// EventQueue is the queue an SQS event reads.
func (t *Template) EventQueue(ev Event, res Resources) (Physical, error) {
	arn, err := t.resolve(ev.Properties["Queue"], res)
	if err != nil {
		return Physical{}, fmt.Errorf("event %s: %w", ev.Name, err)
	}
	for _, p := range res {
		if p.ARN == arn && p.URL != "" {
			return p, nil
		}
	}
	return Physical{}, fmt.Errorf("event %s reads %s, which is no queue of the stack", ev.Name, arn)
}
