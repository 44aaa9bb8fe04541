package devstack

import (
	"testing"
)

func TestLoadTemplateExpandsShortTags(t *testing.T) {
	tmpl, err := LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	vars := tmpl.Globals.Function.Environment.Variables
	ref, ok := vars["ASSETS_TABLE"].(map[string]any)
	if !ok || ref["Ref"] != "AssetsTable" {
		t.Fatalf("ASSETS_TABLE = %#v, want {Ref: AssetsTable}", vars["ASSETS_TABLE"])
	}
	if tmpl.Resources["AssetsTable"].Type != "AWS::DynamoDB::Table" {
		t.Fatalf("AssetsTable type = %q", tmpl.Resources["AssetsTable"].Type)
	}
	var defaults, jwt int
	for _, r := range tmpl.Routes() {
		if r.Path == "" {
			defaults++
		}
		if r.JWT {
			jwt++
		}
	}
	if defaults != 1 {
		t.Errorf("want exactly one $default route, got %d", defaults)
	}
	if jwt == 0 {
		t.Error("no route is behind the JWT authorizer")
	}
}

// The private-target escape hatch is for the local stack only; the deployed
// functions must never get it, and no policy may grant a wildcard.
func TestTemplateKeepsProductionRules(t *testing.T) {
	tmpl, err := LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, set := tmpl.Globals.Function.Environment.Variables["WEBHOOK_ALLOW_PRIVATE"]; set {
		t.Error("template.yaml sets WEBHOOK_ALLOW_PRIVATE globally")
	}
	for name, r := range tmpl.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		if env, ok := r.Properties["Environment"].(map[string]any); ok {
			if vars, ok := env["Variables"].(map[string]any); ok {
				if _, set := vars["WEBHOOK_ALLOW_PRIVATE"]; set {
					t.Errorf("%s sets WEBHOOK_ALLOW_PRIVATE", name)
				}
			}
		}
		policies, _ := r.Properties["Policies"].([]any)
		for _, p := range policies {
			doc, _ := p.(map[string]any)
			stmts, _ := doc["Statement"].([]any)
			for _, st := range stmts {
				s, _ := st.(map[string]any)
				actions, _ := s["Action"].([]any)
				for _, a := range actions {
					if str, _ := a.(string); str == "*" || len(str) > 0 && str[len(str)-1] == '*' {
						t.Errorf("%s grants wildcard action %q", name, str)
					}
				}
				if res, _ := s["Resource"].(string); res == "*" {
					t.Errorf("%s grants an action on every resource", name)
				}
			}
		}
	}
}
