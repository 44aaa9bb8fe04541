package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// catalog knows what IAM needs to name a request's resource: table, index,
// stream and queue ARNs, and each table's and index's partition key (the
// value of which is dynamodb:LeadingKeys).
type catalog struct {
	tables  map[string]tableMeta // by table name
	queues  map[string]string    // queue URL -> ARN
	streams []string
}

type tableMeta struct {
	arn       string
	hashKey   string
	indexHash map[string]string // index name -> its partition key
}

func newCatalog(t *Template, res Resources) (*catalog, error) {
	c := &catalog{tables: map[string]tableMeta{}, queues: map[string]string{}}
	for logical, r := range t.Resources {
		p, ok := res[logical]
		if !ok {
			continue
		}
		switch r.Type {
		case "AWS::DynamoDB::Table":
			var tp tableProps
			raw, _ := json.Marshal(r.Properties)
			if err := json.Unmarshal(raw, &tp); err != nil {
				return nil, err
			}
			m := tableMeta{arn: p.ARN, hashKey: hashKey(tp.KeySchema), indexHash: map[string]string{}}
			var keys []string
			for _, k := range tp.KeySchema {
				keys = append(keys, *k.AttributeName)
			}
			tableKeys.Store(p.Name, keys)
			for _, g := range tp.GlobalSecondaryIndexes {
				m.indexHash[g.IndexName] = hashKey(g.KeySchema)
			}
			c.tables[p.Name] = m
			if p.StreamARN != "" {
				c.streams = append(c.streams, p.StreamARN)
			}
		case "AWS::SQS::Queue":
			c.queues[p.URL] = p.ARN
		}
	}
	return c, nil
}

func hashKey(ks []ddbtypes.KeySchemaElement) string {
	for _, k := range ks {
		if k.KeyType == ddbtypes.KeyTypeHash {
			return *k.AttributeName
		}
	}
	return ""
}

// iamPrefix is the IAM service prefix of each SDK service the functions call.
var iamPrefix = map[string]string{
	"DynamoDB": "dynamodb", "DynamoDB Streams": "dynamodb", "SQS": "sqs", "Secrets Manager": "secretsmanager",
	"STS": "sts", "IAM": "iam",
}

// iamAction names the permission an operation needs where it differs from
// the operation's name.
var iamAction = map[string]string{
	"sqs:SendMessageBatch": "sqs:SendMessage", "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
	"sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}

// requests lists the authorization questions IAM asks for one API call.
func (c *catalog) requests(service, operation string, params any) []Request {
	prefix := iamPrefix[service]
	if prefix == "" {
		prefix = strings.ToLower(strings.ReplaceAll(service, " ", ""))
	}
	action := prefix + ":" + operation
	if a, ok := iamAction[action]; ok {
		action = a
	}
	if service == "DynamoDB" {
		if rs := c.dynamoRequests(params); rs != nil {
			return rs
		}
		table := field(params, "TableName")
		return []Request{{Action: action, Resource: c.tableResource(table, field(params, "IndexName"))}}
	}
	resource := "*"
	switch {
	case field(params, "QueueUrl") != "":
		resource = c.queueARN(field(params, "QueueUrl"))
	case field(params, "StreamArn") != "":
		resource = field(params, "StreamArn")
	case service == "DynamoDB Streams" && len(c.streams) == 1:
		resource = c.streams[0] // GetRecords names its stream through the iterator
	case field(params, "SecretId") != "":
		resource = field(params, "SecretId")
	}
	return []Request{{Action: action, Resource: resource}}
}

// queueARN names a queue by its URL (…/<account>/<name>, on AWS and locally).
func (c *catalog) queueARN(url string) string {
	if arn, ok := c.queues[url]; ok {
		return arn
	}
	parts := strings.Split(strings.TrimRight(url, "/"), "/")
	if len(parts) < 2 {
		return url
	}
	return "arn:aws:sqs:" + localRegion + ":" + parts[len(parts)-2] + ":" + parts[len(parts)-1]
}

func (c *catalog) tableResource(table, index string) string {
	m, ok := c.tables[table]
	arn := m.arn
	if !ok {
		arn = "arn:aws:dynamodb:" + localRegion + ":" + localAccount + ":table/" + table
	}
	if index != "" {
		return arn + "/index/" + index
	}
	return arn
}

// dynamoRequests handles the operations that touch items: their leading keys
// are a condition key, and batches and transactions ask once per table or item.
func (c *catalog) dynamoRequests(params any) []Request {
	one := func(action, table string, keys ...map[string]ddbtypes.AttributeValue) Request {
		r := Request{Action: action, Resource: c.tableResource(table, ""), Keys: map[string][]string{}}
		for _, k := range keys {
			r.Keys["dynamodb:LeadingKeys"] = append(r.Keys["dynamodb:LeadingKeys"], attrString(k[c.tables[table].hashKey]))
		}
		return r
	}
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		return []Request{one("dynamodb:GetItem", deref(in.TableName), in.Key)}
	case *dynamodb.PutItemInput:
		return []Request{one("dynamodb:PutItem", deref(in.TableName), in.Item)}
	case *dynamodb.UpdateItemInput:
		return []Request{one("dynamodb:UpdateItem", deref(in.TableName), in.Key)}
	case *dynamodb.DeleteItemInput:
		return []Request{one("dynamodb:DeleteItem", deref(in.TableName), in.Key)}
	case *dynamodb.BatchGetItemInput:
		var out []Request
		for table, ka := range in.RequestItems {
			out = append(out, one("dynamodb:BatchGetItem", table, ka.Keys...))
		}
		return out
	case *dynamodb.BatchWriteItemInput:
		var out []Request
		for table, writes := range in.RequestItems {
			var keys []map[string]ddbtypes.AttributeValue
			for _, w := range writes {
				if w.PutRequest != nil {
					keys = append(keys, w.PutRequest.Item)
				}
				if w.DeleteRequest != nil {
					keys = append(keys, w.DeleteRequest.Key)
				}
			}
			out = append(out, one("dynamodb:BatchWriteItem", table, keys...))
		}
		return out
	case *dynamodb.TransactWriteItemsInput:
		var out []Request
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				out = append(out, one("dynamodb:PutItem", deref(it.Put.TableName), it.Put.Item))
			case it.Update != nil:
				out = append(out, one("dynamodb:UpdateItem", deref(it.Update.TableName), it.Update.Key))
			case it.Delete != nil:
				out = append(out, one("dynamodb:DeleteItem", deref(it.Delete.TableName), it.Delete.Key))
			case it.ConditionCheck != nil:
				out = append(out, one("dynamodb:ConditionCheckItem", deref(it.ConditionCheck.TableName), it.ConditionCheck.Key))
			}
		}
		return out
	case *dynamodb.TransactGetItemsInput:
		var out []Request
		for _, it := range in.TransactItems {
			if it.Get != nil {
				out = append(out, one("dynamodb:GetItem", deref(it.Get.TableName), it.Get.Key))
			}
		}
		return out
	case *dynamodb.QueryInput:
		table, index := deref(in.TableName), deref(in.IndexName)
		r := Request{Action: "dynamodb:Query", Resource: c.tableResource(table, index), Keys: map[string][]string{}}
		hash := c.tables[table].hashKey
		if index != "" {
			hash = c.tables[table].indexHash[index]
		}
		if v, ok := partitionValue(deref(in.KeyConditionExpression), hash, in.ExpressionAttributeNames, in.ExpressionAttributeValues); ok {
			r.Keys["dynamodb:LeadingKeys"] = []string{v}
		}
		return []Request{r}
	}
	return nil
}

var equality = regexp.MustCompile(`(#?[A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)`)

// partitionValue finds "<partition key> = :value" in a key condition.
func partitionValue(expr, hash string, names map[string]string, values map[string]ddbtypes.AttributeValue) (string, bool) {
	for _, m := range equality.FindAllStringSubmatch(expr, -1) {
		name := m[1]
		if strings.HasPrefix(name, "#") {
			name = names[name]
		}
		if name == hash {
			return attrString(values[m[2]]), true
		}
	}
	return "", false
}

func attrString(v ddbtypes.AttributeValue) string {
	switch x := v.(type) {
	case *ddbtypes.AttributeValueMemberS:
		return x.Value
	case *ddbtypes.AttributeValueMemberN:
		return x.Value
	case *ddbtypes.AttributeValueMemberB:
		return string(x.Value)
	}
	return ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// field reads a *string field of an operation input by name ("" if absent).
func field(in any, name string) string {
	v := reflect.ValueOf(in)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ""
	}
	f := v.FieldByName(name)
	if f.IsValid() && f.Kind() == reflect.Pointer && !f.IsNil() && f.Elem().Kind() == reflect.String {
		return f.Elem().String()
	}
	return ""
}

// authorize is an SDK middleware that asks, before a call leaves the
// process, what IAM would ask of the function's policy, and fails the call
// with AccessDeniedException as AWS would. It covers what moto's engine
// cannot see: resource ARNs (table, index, secret), dynamodb:LeadingKeys, and
// each item of a transaction or batch.
func authorize(principal string, policy Policy, cat *catalog) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("LocalPolicyCheck",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				for _, r := range cat.requests(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), in.Parameters) {
					if !policy.Allows(r) {
						return middleware.InitializeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{
							Code:    "AccessDeniedException",
							Message: fmt.Sprintf("User: %s is not authorized to perform: %s (local check of template.yaml's policy)", principal, r),
							Fault:   smithy.FaultClient,
						}
					}
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
}
