package devstack

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestWildcardMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true}, {"*", "anything", true}, {"TENANT#*#SYSLOG", "TENANT#a#SYSLOG", true},
		{"TENANT#*#SYSLOG", "TENANT#a#b#SYSLOG", true}, {"TENANT#*#SYSLOG", "TENANT#a#SYSLOGx", false},
		{"TENANT#*#SYSLOG", "TENANT#a#DELIVERY#1", false}, {"a?c", "abc", true}, {"a?c", "ac", false},
		{"arn:aws:dynamodb:*:*:table/t", "arn:aws:dynamodb:us-east-1:1:table/t", true},
		{"arn:aws:dynamodb:*:*:table/t", "arn:aws:dynamodb:us-east-1:1:table/t/index/i", false},
		{"", "", true}, {"", "x", false}, {"**", "x", true}, {"a*", "a*b", true}, {"TENANT#*#SYSLOG", "TENANT#*x#SYSLOG", true},
	} {
		if got := wildcardMatch(c.pattern, c.s); got != c.want {
			t.Errorf("wildcardMatch(%q, %q) = %v", c.pattern, c.s, got)
		}
	}
}

func TestPolicyAllows(t *testing.T) {
	table := "arn:aws:dynamodb:us-east-1:123456789012:table/T"
	p := Policy{Statement: []Statement{
		{Effect: "Allow", Action: []string{"dynamodb:GetItem", "dynamodb:UpdateItem"}, Resource: []string{table}},
		{Effect: "Allow", Action: []string{"dynamodb:PutItem"}, Resource: []string{table},
			Condition: map[string]map[string][]string{"ForAllValues:StringLike": {"dynamodb:LeadingKeys": {"TENANT#*#SYSLOG"}}}},
		{Effect: "Allow", Action: []string{"dynamodb:Query"}, Resource: []string{table + "/index/ByResource"}},
		{Effect: "Deny", Action: []string{"dynamodb:UpdateItem"}, Resource: []string{table},
			Condition: map[string]map[string][]string{"ForAnyValue:StringEquals": {"dynamodb:LeadingKeys": {"TENANT#locked"}}}},
	}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	lk := func(v ...string) map[string][]string { return map[string][]string{"dynamodb:LeadingKeys": v} }
	for _, c := range []struct {
		r    Request
		want bool
	}{
		{Request{Action: "dynamodb:GetItem", Resource: table}, true},
		{Request{Action: "DynamoDB:getitem", Resource: table}, true}, // actions are case-insensitive
		{Request{Action: "dynamodb:GetItem", Resource: table + "2"}, false},
		{Request{Action: "dynamodb:BatchGetItem", Resource: table}, false},
		{Request{Action: "dynamodb:PutItem", Resource: table, Keys: lk("TENANT#a#SYSLOG")}, true},
		{Request{Action: "dynamodb:PutItem", Resource: table, Keys: lk("TENANT#a#SYSLOG", "TENANT#a")}, false},
		{Request{Action: "dynamodb:PutItem", Resource: table, Keys: lk("TENANT#a")}, false},
		{Request{Action: "dynamodb:Query", Resource: table}, false},
		{Request{Action: "dynamodb:Query", Resource: table + "/index/ByResource"}, true},
		{Request{Action: "dynamodb:UpdateItem", Resource: table, Keys: lk("TENANT#open")}, true},
		{Request{Action: "dynamodb:UpdateItem", Resource: table, Keys: lk("TENANT#locked")}, false}, // explicit deny wins
	} {
		if got := p.Allows(c.r); got != c.want {
			t.Errorf("%s: allowed = %v, want %v", c.r, got, c.want)
		}
	}
}

func TestPolicyRefusesWhatItCannotEvaluate(t *testing.T) {
	for _, doc := range []map[string]any{
		{"Statement": []any{map[string]any{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}}},
		{"Statement": []any{map[string]any{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
			"Condition": map[string]any{"IpAddress": map[string]any{"aws:SourceIp": "10.0.0.0/8"}}}}},
		{"Statement": []any{map[string]any{"Effect": "Maybe", "Action": "s3:GetObject", "Resource": "*"}}},
		{"Statement": "not a list"},
	} {
		if _, err := policyFromTemplate(doc); err == nil {
			t.Errorf("accepted %v", doc)
		}
	}
}

func testTemplate(t *testing.T) (*Template, Resources) {
	t.Helper()
	tpl, err := LoadTemplate(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	res := Resources{}
	for name, r := range tpl.Resources {
		arn := "arn:aws:" + name
		switch r.Type {
		case "AWS::DynamoDB::Table":
			arn = "arn:aws:dynamodb:us-east-1:123456789012:table/" + name
			res[name] = Physical{Name: name, ARN: arn, StreamARN: arn + "/stream/1"}
		case "AWS::SQS::Queue":
			res[name] = Physical{Name: "http://q/" + name, URL: "http://q/" + name, ARN: "arn:aws:sqs:us-east-1:123456789012:" + name}
		case "AWS::SecretsManager::Secret":
			res[name] = Physical{Name: "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + name, ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + name}
		}
	}
	return tpl, res
}

// The rendered policies, checked where moto's engine cannot be: resources,
// dynamodb:LeadingKeys, and what SAM adds for event sources.
func TestRenderedFunctionPolicies(t *testing.T) {
	tpl, res := testTemplate(t)
	fns := tpl.FunctionNames()
	if len(fns) < 4 {
		t.Fatalf("functions: %v", fns)
	}
	for _, fn := range fns {
		if _, err := tpl.FunctionPolicy(fn, res); err != nil {
			t.Errorf("%s: %v", fn, err)
		}
	}
	integrations := res["IntegrationsTable"].ARN
	assets := res["AssetsTable"].ARN
	lk := func(v ...string) map[string][]string { return map[string][]string{"dynamodb:LeadingKeys": v} }
	for _, c := range []struct {
		fn   string
		r    Request
		want bool
	}{
		{"DispatcherFunction", Request{Action: "dynamodb:BatchGetItem", Resource: integrations, Keys: lk("TENANT#a#DELIVERY#1", "TENANT#a")}, true},
		{"DispatcherFunction", Request{Action: "dynamodb:PutItem", Resource: integrations, Keys: lk("TENANT#a#SYSLOG")}, true},
		{"DispatcherFunction", Request{Action: "dynamodb:PutItem", Resource: integrations, Keys: lk("TENANT#a#DELIVERY#1")}, true}, // webhook.disabled
		{"DispatcherFunction", Request{Action: "dynamodb:PutItem", Resource: integrations, Keys: lk("TENANT#a")}, false},
		{"DispatcherFunction", Request{Action: "dynamodb:PutItem", Resource: integrations, Keys: lk("TENANT#a#APILOG#1")}, false},
		{"DispatcherFunction", Request{Action: "dynamodb:GetItem", Resource: assets}, false},
		{"DispatcherFunction", Request{Action: "sqs:ChangeMessageVisibility", Resource: res["DeliveryQueue"].ARN}, true},
		{"DispatcherFunction", Request{Action: "sqs:SendMessage", Resource: res["DeliveryQueue"].ARN}, true},
		{"DispatcherFunction", Request{Action: "sqs:SendMessage", Resource: res["StreamDLQ"].ARN}, false},
		{"DispatcherFunction", Request{Action: "sqs:ReceiveMessage", Resource: res["DeliveryQueue"].ARN}, true}, // SAM: SQS event source
		{"StreamRouterFunction", Request{Action: "dynamodb:GetRecords", Resource: res["AssetsTable"].StreamARN}, true},
		{"StreamRouterFunction", Request{Action: "sqs:SendMessage", Resource: res["StreamDLQ"].ARN}, true}, // SAM: on-failure destination
		{"StreamRouterFunction", Request{Action: "sqs:SendMessage", Resource: res["DeliveryDLQ"].ARN}, false},
		{"StreamRouterFunction", Request{Action: "dynamodb:PutItem", Resource: assets}, false},
		{"IntegrationApiFunction", Request{Action: "dynamodb:Query", Resource: integrations + "/index/ByResource"}, false},
		{"IntegrationApiFunction", Request{Action: "secretsmanager:GetSecretValue", Resource: res["AppKeySecret"].ARN}, false},
		{"AdminApiFunction", Request{Action: "dynamodb:Query", Resource: integrations + "/index/ByResource"}, true},
		{"AdminApiFunction", Request{Action: "dynamodb:PutItem", Resource: assets}, false},
	} {
		p, _ := tpl.FunctionPolicy(c.fn, res)
		if got := p.Allows(c.r); got != c.want {
			t.Errorf("%s: %s: allowed = %v, want %v", c.fn, c.r, got, c.want)
		}
	}
}

// moto's copy asks for the operation names moto checks, with the resources
// moto cannot see widened, and nothing more.
func TestMotoPolicy(t *testing.T) {
	tpl, res := testTemplate(t)
	p, err := tpl.FunctionPolicy("DispatcherFunction", res)
	if err != nil {
		t.Fatal(err)
	}
	m := motoPolicy(p)
	allows := func(action, resource string) bool { return m.Allows(Request{Action: action, Resource: resource}) }
	if !allows("dynamodb:TransactWriteItems", "*") || !allows("dynamodb:BatchGetItem", "*") {
		t.Error("moto's copy must allow the dispatcher's DynamoDB operations against moto's \"*\" resource")
	}
	if allows("dynamodb:Scan", "*") || allows("dynamodb:DeleteItem", "*") {
		t.Error("moto's copy allows actions the template does not grant")
	}
	if !allows("sqs:ChangeMessageVisibilityBatch", res["DeliveryQueue"].ARN) || allows("sqs:ChangeMessageVisibility", res["StreamDLQ"].ARN) {
		t.Error("SQS statements keep their queue ARNs (moto checks those) and gain their batch names")
	}
}

func TestCatalogRequests(t *testing.T) {
	tpl, res := testTemplate(t)
	cat, err := newCatalog(tpl, res)
	if err != nil {
		t.Fatal(err)
	}
	table := res["IntegrationsTable"].Name
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	got := cat.requests("DynamoDB", "TransactWriteItems", &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
		{Update: &ddbtypes.Update{TableName: aws.String(table), Key: map[string]ddbtypes.AttributeValue{"PK": s("TENANT#a"), "SK": s("WEBHOOK#w")}}},
		{Put: &ddbtypes.Put{TableName: aws.String(table), Item: map[string]ddbtypes.AttributeValue{"PK": s("TENANT#a#SYSLOG"), "SK": s("x")}}},
		{ConditionCheck: &ddbtypes.ConditionCheck{TableName: aws.String(table), Key: map[string]ddbtypes.AttributeValue{"PK": s("TENANT#a"), "SK": s("PROFILE")}}},
	}})
	var actions []string
	for _, r := range got {
		actions = append(actions, r.Action+" "+r.Keys["dynamodb:LeadingKeys"][0])
		if r.Resource != res["IntegrationsTable"].ARN {
			t.Errorf("resource %s", r.Resource)
		}
	}
	if want := []string{"dynamodb:UpdateItem TENANT#a", "dynamodb:PutItem TENANT#a#SYSLOG", "dynamodb:ConditionCheckItem TENANT#a"}; !slices.Equal(actions, want) {
		t.Errorf("transaction asks %v, want %v", actions, want)
	}
	q := cat.requests("DynamoDB", "Query", &dynamodb.QueryInput{
		TableName: aws.String(table), IndexName: aws.String("ByResource"),
		KeyConditionExpression:    aws.String("#k = :pk AND SK < :before"),
		ExpressionAttributeNames:  map[string]string{"#k": "GSI1PK"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": s("TENANT#a#WEBHOOK#w#0"), ":before": s("z")},
	})
	if len(q) != 1 || q[0].Resource != res["IntegrationsTable"].ARN+"/index/ByResource" || !slices.Equal(q[0].Keys["dynamodb:LeadingKeys"], []string{"TENANT#a#WEBHOOK#w#0"}) {
		t.Errorf("query on an index: %+v", q)
	}
	sq := cat.requests("SQS", "SendMessageBatch", struct{ QueueUrl *string }{aws.String(res["DeliveryQueue"].URL)})
	if len(sq) != 1 || sq[0].Action != "sqs:SendMessage" || sq[0].Resource != res["DeliveryQueue"].ARN {
		t.Errorf("SendMessageBatch asks %+v", sq)
	}
}
