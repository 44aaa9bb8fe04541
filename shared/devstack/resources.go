package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Physical is what a logical id became: its name (what !Ref gives) and ARN.
type Physical struct {
	Name      string
	ARN       string
	URL       string // queues only
	StreamARN string // tables with a stream only
}

// Resources maps logical ids to what was created for them.
type Resources map[string]Physical

// tableProps is the subset of AWS::DynamoDB::Table properties the local stack honours.
type tableProps struct {
	AttributeDefinitions   []ddbtypes.AttributeDefinition
	KeySchema              []ddbtypes.KeySchemaElement
	GlobalSecondaryIndexes []struct {
		IndexName  string
		KeySchema  []ddbtypes.KeySchemaElement
		Projection struct {
			ProjectionType   ddbtypes.ProjectionType
			NonKeyAttributes []string
		}
	}
	StreamSpecification *struct {
		StreamViewType ddbtypes.StreamViewType
	}
	TimeToLiveSpecification *struct {
		AttributeName string
		Enabled       bool
	}
}

// Create makes every table, queue and secret the template declares, named
// <prefix>-<LogicalId>. It is idempotent: what exists is kept.
func Create(ctx context.Context, awsCfg aws.Config, t *Template, prefix string) (Resources, error) {
	out := Resources{}
	t.Stack = prefix
	db := dynamodb.NewFromConfig(awsCfg)
	sm := secretsmanager.NewFromConfig(awsCfg)
	q := sqs.NewFromConfig(awsCfg)
	names := make([]string, 0, len(t.Resources))
	for n := range t.Resources {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, logical := range names {
		r := t.Resources[logical]
		name := prefix + "-" + logical
		var (
			p   Physical
			err error
		)
		switch r.Type {
		case "AWS::DynamoDB::Table":
			p, err = createTable(ctx, db, name, r.Properties)
		case "AWS::SecretsManager::Secret":
			p, err = createSecret(ctx, sm, name)
		case "AWS::SQS::Queue":
			p, err = createQueue(ctx, q, name, r.Properties, out)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", logical, err)
		}
		out[logical] = p
	}
	return out, nil
}

func createTable(ctx context.Context, db *dynamodb.Client, name string, props map[string]any) (Physical, error) {
	var tp tableProps
	raw, _ := json.Marshal(props)
	if err := json.Unmarshal(raw, &tp); err != nil {
		return Physical{}, err
	}
	in := &dynamodb.CreateTableInput{
		TableName: aws.String(name), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: tp.AttributeDefinitions, KeySchema: tp.KeySchema,
	}
	for _, g := range tp.GlobalSecondaryIndexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ddbtypes.GlobalSecondaryIndex{
			IndexName: aws.String(g.IndexName), KeySchema: g.KeySchema,
			Projection: &ddbtypes.Projection{ProjectionType: g.Projection.ProjectionType, NonKeyAttributes: g.Projection.NonKeyAttributes},
		})
	}
	if tp.StreamSpecification != nil {
		in.StreamSpecification = &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: tp.StreamSpecification.StreamViewType}
	}
	created, err := db.CreateTable(ctx, in)
	var inUse *ddbtypes.ResourceInUseException
	switch {
	case errors.As(err, &inUse):
	case err != nil:
		return Physical{}, err
	}
	if created != nil && tp.TimeToLiveSpecification != nil && tp.TimeToLiveSpecification.Enabled {
		if _, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName:               aws.String(name),
			TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(tp.TimeToLiveSpecification.AttributeName), Enabled: aws.Bool(true)},
		}); err != nil {
			return Physical{}, err
		}
	}
	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		return Physical{}, err
	}
	return Physical{Name: name, ARN: aws.ToString(desc.Table.TableArn), StreamARN: aws.ToString(desc.Table.LatestStreamArn)}, nil
}

func createSecret(ctx context.Context, sm *secretsmanager.Client, name string) (Physical, error) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(hex.EncodeToString(b[:]))})
	var exists *smtypes.ResourceExistsException
	if errors.As(err, &exists) {
		d, derr := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
		if derr != nil {
			return Physical{}, derr
		}
		return Physical{Name: aws.ToString(d.ARN), ARN: aws.ToString(d.ARN)}, nil
	}
	if err != nil {
		return Physical{}, err
	}
	// !Ref of a secret is its ARN.
	return Physical{Name: aws.ToString(out.ARN), ARN: aws.ToString(out.ARN)}, nil
}

func createQueue(ctx context.Context, q *sqs.Client, name string, props map[string]any, created Resources) (Physical, error) {
	attrs := map[string]string{}
	for _, k := range []string{"VisibilityTimeout", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds", "DelaySeconds"} {
		if v, ok := props[k]; ok {
			attrs[k] = fmt.Sprint(v)
		}
	}
	if rp, ok := props["RedrivePolicy"].(map[string]any); ok {
		// The dead-letter queue sorts before its source queue, so it exists by now.
		target := fmt.Sprint(rp["deadLetterTargetArn"])
		if ref, ok := rp["deadLetterTargetArn"].(map[string]any); ok {
			if ga, ok := ref["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
				target = created[fmt.Sprint(ga[0])].ARN
			}
		}
		raw, _ := json.Marshal(map[string]any{"deadLetterTargetArn": target, "maxReceiveCount": rp["maxReceiveCount"]})
		attrs["RedrivePolicy"] = string(raw)
	}
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return Physical{}, err
	}
	a, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return Physical{}, err
	}
	// !Ref of a queue is its URL.
	return Physical{Name: aws.ToString(out.QueueUrl), URL: aws.ToString(out.QueueUrl), ARN: a.Attributes["QueueArn"]}, nil
}

// Environment resolves a function's variables (the template's Globals, then
// the function's own) against the created resources and parameter defaults,
// as CloudFormation would; overrides win.
func (t *Template) Environment(fn string, res Resources, overrides map[string]string) (map[string]string, error) {
	env := map[string]string{}
	for _, vars := range []map[string]any{t.Globals.Function.Environment.Variables, t.FunctionVariables(fn)} {
		for k, v := range vars {
			s, err := t.resolve(v, res)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", fn, k, err)
			}
			env[k] = s
		}
	}
	for k, v := range overrides {
		env[k] = v
	}
	return env, nil
}

func (t *Template) resolve(v any, res Resources) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int, float64, bool:
		return fmt.Sprint(x), nil
	case map[string]any:
		if ref, ok := x["Ref"].(string); ok {
			return t.ref(ref, res)
		}
		if ga, ok := x["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
			return getAtt(res, fmt.Sprint(ga[0]), fmt.Sprint(ga[1]))
		}
		if sub, ok := x["Fn::Sub"].(string); ok {
			return t.sub(sub, res)
		}
	}
	return "", fmt.Errorf("unsupported value %v", v)
}

// resolveAll resolves every intrinsic inside a template value (a policy
// document, say), keeping its shape.
func (t *Template) resolveAll(v any, res Resources) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := t.resolveAll(e, res)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			for k := range x {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return t.resolve(x, res)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := t.resolveAll(e, res)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}

// Local pseudo parameters: moto's and LocalStack's defaults.
const (
	localAccount = "123456789012"
	localRegion  = "us-east-1"
)

func (t *Template) ref(name string, res Resources) (string, error) {
	switch name {
	case "AWS::Region":
		return localRegion, nil
	case "AWS::AccountId":
		return localAccount, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::StackName":
		if t.Stack == "" {
			return "", fmt.Errorf("!Ref AWS::StackName before the local stack has a name")
		}
		return t.Stack, nil
	}
	if p, ok := res[name]; ok {
		return p.Name, nil
	}
	if p, ok := t.Parameters[name]; ok && p.Default != nil {
		return fmt.Sprint(p.Default), nil
	}
	return "", fmt.Errorf("cannot resolve !Ref %s locally", name)
}

func getAtt(res Resources, logical, attr string) (string, error) {
	p, ok := res[logical]
	if !ok {
		return "", fmt.Errorf("!GetAtt %s.%s: no local resource %s", logical, attr, logical)
	}
	switch attr {
	case "Arn":
		return p.ARN, nil
	case "StreamArn":
		return p.StreamARN, nil
	case "QueueUrl":
		return p.URL, nil
	case "QueueName":
		return p.Name[strings.LastIndex(p.Name, "/")+1:], nil
	}
	return "", fmt.Errorf("!GetAtt %s.%s is not supported locally", logical, attr)
}

// sub expands ${Name} and ${Logical.Attr} in a !Sub string.
func (t *Template) sub(s string, res Resources) (string, error) {
	var b strings.Builder
	for {
		start := strings.Index(s, "${")
		if start < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		end := strings.Index(s[start:], "}")
		if end < 0 {
			return "", fmt.Errorf("!Sub %q: unclosed ${", s)
		}
		b.WriteString(s[:start])
		name := s[start+2 : start+end]
		var (
			v   string
			err error
		)
		if logical, attr, ok := strings.Cut(name, "."); ok {
			v, err = getAtt(res, logical, attr)
		} else {
			v, err = t.ref(name, res)
		}
		if err != nil {
			return "", err
		}
		b.WriteString(v)
		s = s[start+end+1:]
	}
}
