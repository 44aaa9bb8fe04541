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
