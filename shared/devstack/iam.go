package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// FunctionNames lists the template's functions, sorted.
func (t *Template) FunctionNames() []string {
	var out []string
	for name, r := range t.Resources {
		if r.Type == "AWS::Serverless::Function" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Event-source permissions SAM gives a function's role, as the managed
// policies it attaches grant them.
var (
	// AWSLambdaDynamoDBExecutionRole (less its CloudWatch Logs actions).
	streamSourceActions = []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}
	// AWSLambdaSQSQueueExecutionRole (less its CloudWatch Logs actions).
	queueSourceActions = []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
)

// FunctionPolicy is the identity policy template.yaml gives fn's execution
// role, intrinsics resolved to the local resources: its Policies, plus what
// SAM adds for its event sources (the stream and queue read permissions, and
// sqs:SendMessage on an SQS on-failure destination).
func (t *Template) FunctionPolicy(fn string, res Resources) (Policy, error) {
	r, ok := t.Resources[fn]
	if !ok || r.Type != "AWS::Serverless::Function" {
		return Policy{}, fmt.Errorf("%s is not a function of the template", fn)
	}
	out := Policy{Version: "2012-10-17"}
	policies, _ := r.Properties["Policies"].([]any)
	for i, raw := range policies {
		doc, ok := raw.(map[string]any)
		if !ok || doc["Statement"] == nil {
			// Managed policy names and SAM policy templates would need their
			// contents here; none is used, and guessing would be worse than failing.
			return Policy{}, fmt.Errorf("%s: Policies[%d] is not an inline policy document; the local stack cannot render it", fn, i)
		}
		resolved, err := t.resolveAll(doc, res)
		if err != nil {
			return Policy{}, fmt.Errorf("%s: Policies[%d]: %w", fn, i, err)
		}
		p, err := policyFromTemplate(resolved.(map[string]any))
		if err != nil {
			return Policy{}, fmt.Errorf("%s: Policies[%d]: %w", fn, i, err)
		}
		out.Statement = append(out.Statement, p.Statement...)
	}
	// An asynchronous invocation's failure destination: SAM lets the
	// function's role send to it (Lambda sends as the function).
	if dest, err := t.asyncFailureQueue(r.Properties, res); err != nil {
		return Policy{}, fmt.Errorf("%s: EventInvokeConfig: %w", fn, err)
	} else if dest != "" {
		out.Statement = append(out.Statement, Statement{Sid: "AsyncOnFailure", Effect: "Allow", Action: []string{"sqs:SendMessage"}, Resource: []string{dest}})
	}
	events, _ := r.Properties["Events"].(map[string]any)
	names := make([]string, 0, len(events))
	for n := range events {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		ev, _ := events[name].(map[string]any)
		props, _ := ev["Properties"].(map[string]any)
		switch ev["Type"] {
		case "HttpApi":
		case "DynamoDB":
			out.Statement = append(out.Statement, Statement{Sid: name + "Source", Effect: "Allow", Action: streamSourceActions, Resource: []string{"*"}})
			dest, err := t.onFailureQueue(props, res)
			if err != nil {
				return Policy{}, fmt.Errorf("%s: %s: %w", fn, name, err)
			}
			if dest != "" {
				out.Statement = append(out.Statement, Statement{Sid: name + "OnFailure", Effect: "Allow", Action: []string{"sqs:SendMessage"}, Resource: []string{dest}})
			}
		case "SQS":
			out.Statement = append(out.Statement, Statement{Sid: name + "Source", Effect: "Allow", Action: queueSourceActions, Resource: []string{"*"}})
		case "ScheduleV2":
			// The schedule invokes the function with a role of its own; the
			// function's role gains nothing.
		default:
			return Policy{}, fmt.Errorf("%s: event %s of type %v: its permissions are not known to the local stack", fn, name, ev["Type"])
		}
	}
	return out, out.Validate()
}

// onFailureQueue is the ARN of an SQS on-failure destination, or "".
func (t *Template) onFailureQueue(props map[string]any, res Resources) (string, error) {
	dc, _ := props["DestinationConfig"].(map[string]any)
	of, _ := dc["OnFailure"].(map[string]any)
	if of == nil {
		return "", nil
	}
	if of["Type"] != "SQS" {
		return "", fmt.Errorf("on-failure destination type %v is not supported locally", of["Type"])
	}
	return t.resolve(of["Destination"], res)
}

// asyncFailureQueue is a function's EventInvokeConfig on-failure queue ("" if none).
func (t *Template) asyncFailureQueue(fnProps map[string]any, res Resources) (string, error) {
	eic, _ := fnProps["EventInvokeConfig"].(map[string]any)
	if eic == nil {
		return "", nil
	}
	return t.onFailureQueue(eic, res)
}

// motoPolicy adapts p to what moto's policy engine can evaluate. moto only
// knows the resource of SQS, IAM and STS requests (for every other service it
// checks the policy against "*"), ignores most condition operators, and asks
// for the API operation's name where IAM asks for the actions behind it
// (TransactWriteItems is PutItem/UpdateItem/DeleteItem/ConditionCheckItem per
// item; SendMessageBatch is SendMessage). So moto gets the same actions with
// those resources widened and the batch/transaction names added, and the
// local check (authorize) evaluates the exact policy on every call. The
// deployed policy is never changed.
func motoPolicy(p Policy) Policy {
	aliases := map[string][]string{
		"dynamodb:putitem": {"dynamodb:TransactWriteItems"}, "dynamodb:updateitem": {"dynamodb:TransactWriteItems"},
		"dynamodb:deleteitem": {"dynamodb:TransactWriteItems"}, "dynamodb:conditioncheckitem": {"dynamodb:TransactWriteItems"},
		"dynamodb:getitem": {"dynamodb:TransactGetItems"}, "sqs:sendmessage": {"sqs:SendMessageBatch"},
		"sqs:deletemessage": {"sqs:DeleteMessageBatch"}, "sqs:changemessagevisibility": {"sqs:ChangeMessageVisibilityBatch"},
	}
	out := Policy{Version: p.Version}
	for _, s := range p.Statement {
		byService := map[string][]string{}
		for _, a := range s.Action {
			svc, _, _ := strings.Cut(a, ":")
			byService[svc] = append(byService[svc], a)
			for _, alias := range aliases[strings.ToLower(a)] {
				if !slices.Contains(byService[svc], alias) {
					byService[svc] = append(byService[svc], alias)
				}
			}
		}
		for _, svc := range slices.Sorted(maps.Keys(byService)) {
			ms := Statement{Effect: s.Effect, Action: byService[svc], Resource: s.Resource}
			if svc != "sqs" && svc != "iam" && svc != "sts" {
				ms.Resource = []string{"*"}
			}
			if s.Effect == "Deny" {
				continue // a widened Deny would deny too much; the local check applies it
			}
			out.Statement = append(out.Statement, ms)
		}
	}
	return out
}

// IsMoto reports whether endpoint is a moto server (it answers /moto-api/).
func IsMoto(ctx context.Context, endpoint string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(endpoint, "/")+"/moto-api/", nil)
	if err != nil {
		return false
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// setMotoAuth turns moto's IAM enforcement on or off for every client of
// that server (its setting is global).
func setMotoAuth(ctx context.Context, endpoint string, on bool) error {
	// moto checks requests once this many have been made: 0 = from now on.
	count := "inf"
	if on {
		count = "0"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(endpoint, "/")+"/moto-api/reset-auth", strings.NewReader(count))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("moto reset-auth: %s: %s", resp.Status, b)
	}
	return nil
}

// Principal is an IAM identity the local stack acts as.
type Principal struct {
	Name        string
	ARN         string
	Policy      Policy     // what template.yaml grants
	AWS         aws.Config // SDK configuration signing as this principal, with the local policy check
	Calls       *Calls     // what it has called (benchmarks report calls per record)
	credentials aws.Credentials
	base        aws.Config
}

// Raw is the principal's SDK configuration without the local policy check:
// only the endpoint's own IAM enforcement applies.
func (p Principal) Raw() aws.Config { return withCredentials(p.base, p.credentials) }

// createAdmin makes the stack's own IAM user (what CloudFormation and a test
// harness act as: every action) and returns its access key. It runs while
// moto's enforcement is off, with the bootstrap credentials.
func createAdmin(ctx context.Context, bootstrap aws.Config, name string) (arn string, creds aws.Credentials, err error) {
	c := iam.NewFromConfig(bootstrap)
	out, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)})
	var exists *iamtypes.EntityAlreadyExistsException
	switch {
	case errors.As(err, &exists):
		got, gerr := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(name)})
		if gerr != nil {
			return "", aws.Credentials{}, gerr
		}
		arn = aws.ToString(got.User.Arn)
	case err != nil:
		return "", aws.Credentials{}, err
	default:
		arn = aws.ToString(out.User.Arn)
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String("local-stack-admin"), PolicyDocument: aws.String(doc)}); err != nil {
		return "", aws.Credentials{}, err
	}
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		return "", aws.Credentials{}, err
	}
	return arn, aws.Credentials{AccessKeyID: aws.ToString(key.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(key.AccessKey.SecretAccessKey)}, nil
}

// createFunctionPrincipal makes fn's execution role holding exactly policy
// (adapted for moto's engine when moto enforces it) and returns credentials
// of a session of that role, as Lambda would run the function with.
func createFunctionPrincipal(ctx context.Context, admin aws.Config, adminARN, roleName string, policy Policy, moto bool) (arn string, creds aws.Credentials, err error) {
	c := iam.NewFromConfig(admin)
	trust, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect": "Allow", "Action": "sts:AssumeRole",
			// Lambda assumes it on AWS; locally the stack's admin does, for the function.
			"Principal": map[string]any{"Service": "lambda.amazonaws.com", "AWS": adminARN},
		}},
	})
	role, err := c.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: aws.String(roleName), AssumeRolePolicyDocument: aws.String(string(trust)), MaxSessionDuration: aws.Int32(43200),
	})
	var exists *iamtypes.EntityAlreadyExistsException
	switch {
	case errors.As(err, &exists):
		if _, err := c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(roleName), PolicyDocument: aws.String(string(trust))}); err != nil {
			return "", aws.Credentials{}, err
		}
		got, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(roleName)})
		if err != nil {
			return "", aws.Credentials{}, err
		}
		arn = aws.ToString(got.Role.Arn)
	case err != nil:
		return "", aws.Credentials{}, err
	default:
		arn = aws.ToString(role.Role.Arn)
	}
	granted := policy
	if moto {
		granted = motoPolicy(policy)
	}
	doc, err := json.Marshal(granted)
	if err != nil {
		return "", aws.Credentials{}, err
	}
	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(roleName), PolicyName: aws.String("template"), PolicyDocument: aws.String(string(doc))}); err != nil {
		return "", aws.Credentials{}, err
	}
	out, err := sts.NewFromConfig(admin).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(arn), RoleSessionName: aws.String("local"), DurationSeconds: aws.Int32(43200),
	})
	if err != nil {
		return "", aws.Credentials{}, err
	}
	cr := out.Credentials
	return arn, aws.Credentials{AccessKeyID: aws.ToString(cr.AccessKeyId), SecretAccessKey: aws.ToString(cr.SecretAccessKey), SessionToken: aws.ToString(cr.SessionToken)}, nil
}

// withCredentials copies cfg to sign as creds.
func withCredentials(cfg aws.Config, creds aws.Credentials) aws.Config {
	out := cfg.Copy()
	out.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken))
	return out
}
