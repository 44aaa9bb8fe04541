package e2e

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/devstack"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/webhook"
)

// apiCode is the AWS error code of err ("" when it is not an AWS error).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestMotoEnforcesIAM(t *testing.T) {
	if !stack.IsMoto {
		t.Skip("the endpoint is not moto: enforcement is the endpoint's business")
	}
	ctx := context.Background()
	// Unknown credentials are refused outright.
	anon, err := devstack.AWSConfig(ctx, stack.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	anon.APIOptions = stack.AWS.APIOptions
	_, err = dynamodb.NewFromConfig(anon).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(stack.IntegrationsTable), Key: keyschema.Profile("x").Attrs()})
	t.Logf("unknown key: %v", err)
	if apiCode(err) != "InvalidClientTokenId" {
		t.Fatalf("moto must refuse credentials it does not know: %v", err)
	}
	// moto's own engine: the dispatcher may not send to the stream's
	// dead-letter queue (the local check is bypassed: raw role credentials only).
	raw := stack.Principals["DispatcherFunction"].Raw()
	_, err = sqs.NewFromConfig(raw).SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(stack.Resources["StreamDLQ"].URL), MessageBody: aws.String("{}")})
	t.Logf("moto denial: %v", err)
	if apiCode(err) != "AccessDenied" || !strings.Contains(err.Error(), "sqs:SendMessage") {
		t.Fatalf("moto must deny the dispatcher's role sqs:SendMessage on StreamDLQ: %v", err)
	}
	// And the same call on the queue it may send to goes through moto.
	if _, err := sqs.NewFromConfig(raw).SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(stack.Config.Dispatcher.DeliveryQueueURL), MessageBody: aws.String("{}"), DelaySeconds: 900}); err != nil {
		t.Fatalf("moto denied what the template grants: %v", err)
	}
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}}
}

// withoutAction is fn's template policy with one action taken out of every statement.
func withoutAction(t *testing.T, fn, action string) devstack.Policy {
	t.Helper()
	p, err := stack.Template.FunctionPolicy(fn, stack.Resources)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for i, s := range p.Statement {
		if slices.Contains(s.Action, action) {
			found = true
			p.Statement[i].Action = slices.DeleteFunc(slices.Clone(s.Action), func(a string) bool { return a == action })
		}
	}
	if !found {
		t.Fatalf("%s's policy does not grant %s", fn, action)
	}
	return p
}

// A permission the code needs, taken out of a copy of the template's policy,
// makes the flow that needs it fail with AccessDenied.
func TestMissingPermissionFailsTheFlow(t *testing.T) {
	ctx := context.Background()
	p, err := stack.NewPrincipal(ctx, "mutant-dispatcher-"+strings.ToLower(t.Name()[:8]), withoutAction(t, "DispatcherFunction", "dynamodb:BatchGetItem"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := delivery.Build(ctx, stack.Config.Dispatcher, p.AWS)
	if err != nil {
		t.Fatal(err)
	}
	k := delivery.Key{TenantID: "t-mutant", DeliveryID: "msg_x", SK: "2026-01-01T00:00:00Z#msg_x", WebhookID: "wh_x"}
	var hook webhook.Fetched
	_, _, err = d.Deliveries.GetWith(ctx, k, d.Webhooks.Read(k.TenantID, k.WebhookID, &hook))
	if apiCode(err) != "AccessDeniedException" || !strings.Contains(err.Error(), "dynamodb:BatchGetItem") {
		t.Fatalf("reading a delivery without dynamodb:BatchGetItem: %v", err)
	}
	body := `{"tenantId":"t-mutant","deliveryId":"msg_x","sk":"2026-01-01T00:00:00Z#msg_x","webhookId":"wh_x"}`
	resp, err := d.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: body, ReceiptHandle: "r"}}})
	if err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("the message must stay in the queue: %+v %v", resp, err)
	}
	// The same calls with the template's own policy go through.
	_, _, err = stack.Dispatcher.Deliveries.GetWith(ctx, k, stack.Dispatcher.Webhooks.Read(k.TenantID, k.WebhookID, &hook))
	if err != nil {
		t.Fatalf("with the template's policy: %v", err)
	}
}

// The dispatcher may add items only to the system-log and delivery
// partitions (dynamodb:LeadingKeys TENANT#*#SYSLOG, TENANT#*#DELIVERY#*, for
// webhook.disabled): moto cannot evaluate that condition, so the local
// check does, on every call.
func TestLeadingKeysCondition(t *testing.T) {
	ctx := context.Background()
	db := dynamodb.NewFromConfig(stack.Principals["DispatcherFunction"].AWS)
	put := func(pk string) error {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(stack.IntegrationsTable), Item: key(pk, "probe-"+t.Name())})
		return err
	}
	if err := put(keyschema.SystemPK("t-leading")); err != nil {
		t.Fatalf("a system-log entry: %v", err)
	}
	if err := put(keyschema.DeliveryPK("t-leading", 0)); err != nil {
		t.Fatalf("a delivery record: %v", err)
	}
	for _, pk := range []string{keyschema.APILogPK("t-leading", 0), keyschema.TenantPK("t-leading"), keyschema.SystemPK("t-leading") + "-not"} {
		if err := put(pk); apiCode(err) != "AccessDeniedException" {
			t.Errorf("PutItem on %s: %v, want AccessDeniedException", pk, err)
		}
	}
	// In a transaction each item is asked for separately: a SYSLOG put
	// cannot carry a put elsewhere along with it.
	_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(stack.IntegrationsTable), Item: key(keyschema.SystemPK("t-leading"), "tx-"+t.Name())}},
		{Put: &types.Put{TableName: aws.String(stack.IntegrationsTable), Item: key(keyschema.APILogPK("t-leading", 0), "tx-"+t.Name())}},
	}})
	if apiCode(err) != "AccessDeniedException" || !strings.Contains(err.Error(), "APILOG") {
		t.Fatalf("a transaction with a put outside the system log: %v", err)
	}
}
