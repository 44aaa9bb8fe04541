package devstack

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/config"
	"github.com/uniasset/integrations/shared/lambdas"
	"github.com/uniasset/integrations/shared/metrics"
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
		if r.Properties["Namespace"] == metrics.Namespace && !strings.HasSuffix(key, "/AWS::StackName") {
			t.Errorf("alarm on %s counts every stack's metric, not its own (dimension %s: !Ref AWS::StackName)", key, metrics.Dimension)
		}
		watched[key] = true
	}
	want := []string{
		"AWS/Lambda/IteratorAge/StreamRouterFunction",
		"AWS/SQS/ApproximateAgeOfOldestMessage/DeliveryQueue",
		"AWS/SQS/ApproximateNumberOfMessagesVisible/DeliveryDLQ",
		"AWS/SQS/ApproximateNumberOfMessagesVisible/StreamDLQ",
		"AWS/ApiGateway/5xx/HttpApi",
	}
	// Every metric the functions write when something is skipped or
	// degraded, watched in this stack only (the Stack dimension: another
	// stack in the account has its own alarms).
	for _, m := range []string{"MissingDeliveryRecords", alert.MetricItemsFailed, alert.MetricRetriesAbandoned, alert.MetricSettingsUnreadable,
		alert.MetricUnreadableWebhooks, streamrouter.MetricUnroutableEvents} {
		want = append(want, "UniAssetIntegrations/"+m+"/AWS::StackName")
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

// Two stacks in one account (dev and prod) deploy side by side: no
// schedule has a fixed name (SAM names one after its logical id, in the
// default group, unless OmitName: CloudFormation then makes a name per
// stack), and the functions' metrics carry the stack (STACK_NAME from
// AWS::StackName in Globals; the alarms above select it).
func TestTwoStacksDoNotCollide(t *testing.T) {
	tmpl, err := LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	schedules := 0
	for name, r := range tmpl.Resources {
		events, _ := r.Properties["Events"].(map[string]any)
		for ev, e := range events {
			e := e.(map[string]any)
			if e["Type"] != "ScheduleV2" && e["Type"] != "Schedule" {
				continue
			}
			schedules++
			p, _ := e["Properties"].(map[string]any)
			if p["OmitName"] != true || p["Name"] != nil {
				t.Errorf("%s.%s: a schedule named the same in every stack (set OmitName: true)", name, ev)
			}
		}
	}
	if schedules < 4 {
		t.Fatalf("found %d schedules; the template has 4", schedules)
	}
	if v, _ := tmpl.Globals.Function.Environment.Variables["STACK_NAME"].(map[string]any); v["Ref"] != "AWS::StackName" {
		t.Fatalf("Globals STACK_NAME = %v, want !Ref AWS::StackName", tmpl.Globals.Function.Environment.Variables["STACK_NAME"])
	}
}

// renderSchedules runs SAM's own transform (samtranslator, which cfn-lint
// brings; make tools installs it) over the template and returns each
// AWS::Scheduler::Schedule it renders and whether it has a fixed Name.
const renderSchedules = `
import json, sys
from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform
tpl, problems = decode_str(open(sys.argv[1]).read())
if problems:
    sys.exit(str(problems))
for r in tpl["Resources"].values():
    if r.get("Type") == "AWS::Serverless::Function":
        r["Properties"]["CodeUri"] = "s3://bucket/key"  # sam build's job; the transform needs one
class NoPolicies:
    def load(self, *args):
        return {}
out = transform(tpl, {}, NoPolicies())
names = ("Name", "TableName", "QueueName", "FunctionName", "RoleName", "AlarmName", "TopicName", "LogGroupName", "SecretName", "ApiName")
print(json.dumps({
    "schedules": {k: "Name" in v["Properties"] for k, v in out["Resources"].items() if v["Type"] == "AWS::Scheduler::Schedule"},
    # a physical name written as a plain string is the same in every stack
    "fixed": sorted(k + "." + n for k, v in out["Resources"].items() for n in names if isinstance(v.get("Properties", {}).get(n), str)),
}))
`

// Nothing SAM renders from the template has a fixed physical name (the
// schedules, SAM's default, least of all), so a second stack's resources
// do not collide with the first's.
func TestRenderedResourcesHaveNoFixedName(t *testing.T) {
	cmd := exec.Command("python3", "-c", renderSchedules, "../../template.yaml")
	cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION=us-east-1")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("SAM's transform (python3 with cfn-lint's samtranslator; make tools installs it): %v\n%s", err, stderr)
	}
	var rendered struct {
		Schedules map[string]bool
		Fixed     []string
	}
	if err := json.Unmarshal(out, &rendered); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(rendered.Schedules) != 4 {
		t.Fatalf("rendered schedules %v, want the template's 4", rendered.Schedules)
	}
	for name, fixed := range rendered.Schedules {
		if fixed {
			t.Errorf("%s renders with a fixed Name: a second stack's collides with it", name)
		}
	}
	if len(rendered.Fixed) > 0 {
		t.Errorf("resources named the same in every stack: %v", rendered.Fixed)
	}
}
