package devstack

import (
	"fmt"
	"os"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/config"
	"github.com/uniasset/integrations/shared/lambdas"
	"github.com/uniasset/integrations/shared/streamrouter"
)

func TestLoadTemplateExpandsShortTags(t *testing.T) {
	tmpl, err := LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	vars := tmpl.FunctionVariables("IntegrationApiFunction")
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

// Each function gets from the template every variable its config requires
// and nothing its config does not read.
func TestEachFunctionGetsWhatItsConfigReads(t *testing.T) {
	tmpl, err := LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range tmpl.Resources {
		if r.Type == "AWS::Serverless::Function" && lambdas.Configs()[name] == nil {
			t.Errorf("%s is not in the function registry (lambdas.All)", name)
		}
	}
	for fn, fresh := range lambdas.Configs() {
		if tmpl.Resources[fn].Type != "AWS::Serverless::Function" {
			t.Errorf("the function registry names %s, which the template does not define", fn)
			continue
		}
		given := map[string]bool{}
		for _, vars := range []map[string]any{tmpl.Globals.Function.Environment.Variables, tmpl.FunctionVariables(fn)} {
			for k := range vars {
				given[k] = true
			}
		}
		reads := map[string]bool{}
		for _, v := range config.Uses(fresh()) {
			reads[v.Name] = true
			if v.Required && !given[v.Name] {
				t.Errorf("%s requires %s; the template does not give it", fn, v.Name)
			}
		}
		for k := range given {
			if !reads[k] {
				t.Errorf("the template gives %s %s, which its config does not read", fn, k)
			}
		}
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

// What an on-call engineer and a deploying ops team rely on.
func TestTemplateIsDeployableAndWatched(t *testing.T) {
	tmpl, err := LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"JwtIssuer", "JwtAudience"} {
		if d := tmpl.Parameters[p].Default; d != nil {
			t.Errorf("%s has a default (%v): a placeholder deploys a stack whose admin calls all answer 401", p, d)
		}
	}
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources map[string]struct {
			Type                string         `yaml:"Type"`
			DeletionPolicy      string         `yaml:"DeletionPolicy"`
			UpdateReplacePolicy string         `yaml:"UpdateReplacePolicy"`
			Properties          map[string]any `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for name, r := range doc.Resources {
		switch r.Type {
		case "AWS::DynamoDB::Table", "AWS::SecretsManager::Secret":
			if r.DeletionPolicy != "Retain" || r.UpdateReplacePolicy != "Retain" {
				t.Errorf("%s is not retained on delete and replace", name)
			}
		}
	}
	// Alarms by what they watch: namespace/metric/dimension value.
	watched := map[string]bool{}
	for _, r := range tmpl.Resources {
		if r.Type != "AWS::CloudWatch::Alarm" {
			continue
		}
		key := fmt.Sprint(r.Properties["Namespace"], "/", r.Properties["MetricName"])
		dims, _ := r.Properties["Dimensions"].([]any)
		for _, d := range dims {
			v, _ := d.(map[string]any)["Value"].(map[string]any)
			if ga, ok := v["Fn::GetAtt"].([]any); ok {
				key += "/" + fmt.Sprint(ga[0])
			} else {
				key += "/" + fmt.Sprint(v["Ref"])
			}
		}
		if r.Properties["AlarmActions"] == nil {
			t.Errorf("alarm on %s notifies nobody", key)
		}
		watched[key] = true
	}
	want := []string{
		"AWS/Lambda/IteratorAge/StreamRouterFunction",
		"AWS/SQS/ApproximateAgeOfOldestMessage/DeliveryQueue",
		"AWS/SQS/ApproximateNumberOfMessagesVisible/DeliveryDLQ",
		"AWS/SQS/ApproximateNumberOfMessagesVisible/StreamDLQ",
		"AWS/ApiGateway/5xx/HttpApi",
		"UniAssetIntegrations/MissingDeliveryRecords",
	}
	// Every metric the functions write when something is skipped or degraded.
	for _, m := range []string{alert.MetricItemsFailed, alert.MetricRetriesAbandoned, alert.MetricSettingsUnreadable,
		alert.MetricUnreadableWebhooks, streamrouter.MetricUnroutableEvents} {
		want = append(want, "UniAssetIntegrations/"+m)
	}
	for _, fn := range tmpl.FunctionNames() {
		want = append(want, "AWS/Lambda/Errors/"+fn, "AWS/Lambda/Throttles/"+fn)
	}
	for _, w := range want {
		if !watched[w] {
			t.Errorf("no alarm watches %s", w)
		}
	}
}
