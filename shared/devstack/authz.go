package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
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

// isolation gives moto the isolation DynamoDB's transactions have: moto
// applies a TransactWriteItems item by item and, when one condition fails,
// puts back a copy of the whole table taken when it began, undoing whatever
// other requests wrote meanwhile (and reusing stream sequence numbers). So a
// transaction runs alone, and every other DynamoDB and DynamoDB Streams call
// of the process shares the lock. Lock per endpoint: stacks of one process
// on one server share it. Each attempt takes it, not the SDK's retry waits.
//
// moto's SQS has a gap of the same kind: ChangeMessageVisibility looks a
// receipt handle up by walking the queue's message list while a concurrent
// delete removes from it, so it can skip the message and answer
// ReceiptHandleIsInvalid (a retry then waits out the 6-minute visibility
// timeout). Deletes therefore run alone against visibility changes.
//
// Nor are moto's conditional writes atomic: it checks a condition and then
// applies the write in separate steps, so two conditional updates of one
// item can both pass (two copies of a delivery message both won attempt 1's
// claim, and the receiver got two POSTs). So every item write also takes the
// lock of the item it writes (striped by table and key): writes to one item
// never overlap, as in DynamoDB. Reads take none.
type isolation struct {
	mu, sqs sync.RWMutex
	items   [256]sync.Mutex
}

// tableKeys remembers each table's key attributes (by table name), for the
// item locks.
var tableKeys sync.Map

// itemLocks returns the stripes of the items a write touches, sorted and
// distinct (so locking them in order cannot deadlock); none for other calls.
func (l *isolation) itemLocks(params any) []int {
	var stripes []int
	add := func(table string, item map[string]ddbtypes.AttributeValue) {
		keys := []string{"PK", "SK"}
		if k, ok := tableKeys.Load(table); ok {
			keys = k.([]string)
		}
		h := fnv.New32a()
		h.Write([]byte(table))
		for _, k := range keys {
			h.Write([]byte("\x00" + attrString(item[k])))
		}
		stripes = append(stripes, int(h.Sum32()%uint32(len(l.items))))
	}
	switch in := params.(type) {
	case *dynamodb.PutItemInput:
		add(deref(in.TableName), in.Item)
	case *dynamodb.UpdateItemInput:
		add(deref(in.TableName), in.Key)
	case *dynamodb.DeleteItemInput:
		add(deref(in.TableName), in.Key)
	case *dynamodb.BatchWriteItemInput:
		for table, writes := range in.RequestItems {
			for _, w := range writes {
				if w.PutRequest != nil {
					add(table, w.PutRequest.Item)
				}
				if w.DeleteRequest != nil {
					add(table, w.DeleteRequest.Key)
				}
			}
		}
	}
	slices.Sort(stripes)
	return slices.Compact(stripes)
}

var (
	isolationsMu sync.Mutex
	isolations   = map[string]*isolation{}
)

func isolationFor(endpoint string) *isolation {
	isolationsMu.Lock()
	defer isolationsMu.Unlock()
	if isolations[endpoint] == nil {
		isolations[endpoint] = &isolation{}
	}
	return isolations[endpoint]
}

// motoAnswerLimit bounds how long a call whose caller gave up holds the
// locks waiting for moto's answer.
const motoAnswerLimit = 2 * time.Minute

// paramsKey carries an operation's input from Initialize to Finalize.
type paramsKey struct{}

func params(ctx context.Context) any { return middleware.GetStackValue(ctx, paramsKey{}) }

func (l *isolation) middleware(st *middleware.Stack) error {
	if err := st.Initialize.Add(middleware.InitializeMiddlewareFunc("LocalIsolationParams",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			return next.HandleInitialize(middleware.WithStackValue(ctx, paramsKey{}, in.Parameters), in)
		}), middleware.After); err != nil {
		return err
	}
	return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("LocalTransactionIsolation",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			switch op := awsmiddleware.GetOperationName(ctx); awsmiddleware.GetServiceID(ctx) {
			case "DynamoDB", "DynamoDB Streams":
				if op == "TransactWriteItems" {
					l.mu.Lock()
					defer l.mu.Unlock()
				} else {
					l.mu.RLock()
					defer l.mu.RUnlock()
					for _, i := range l.itemLocks(params(ctx)) {
						l.items[i].Lock()
						defer l.items[i].Unlock()
					}
				}
				// A caller that gives up (its invocation's deadline, a
				// cancelled sibling) closes the connection, but moto goes on
				// with the request: released then, the locks would let a
				// transaction overlap it, and a cancelled transaction's
				// rollback would take the other write's stream record with
				// it. So a call sent runs to moto's answer, locks held (for
				// at most motoAnswerLimit, should moto hang); one whose
				// caller left while it waited for the locks is not sent.
				if err := ctx.Err(); err != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, err
				}
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), motoAnswerLimit)
				defer cancel()
			case "SQS":
				switch op {
				case "DeleteMessage", "DeleteMessageBatch":
					l.sqs.Lock()
					defer l.sqs.Unlock()
				case "ChangeMessageVisibility", "ChangeMessageVisibilityBatch":
					l.sqs.RLock()
					defer l.sqs.RUnlock()
				}
			}
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

// motoDenials makes moto's IAM refusals legible. moto answers them in the
// IAM query protocol's XML even for JSON services, which the SDK cannot
// decode ("deserialization failed"); this turns such a 403 into the API
// error it means (AccessDenied, InvalidClientTokenId, ...), with its message.
// It sits next to the transport, under the operation's deserializer.
func motoDenials(st *middleware.Stack) error {
	return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("MotoDenials",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			resp, ok := out.RawResponse.(*smithyhttp.Response)
			if err != nil || !ok || resp.StatusCode != http.StatusForbidden {
				return out, md, err
			}
			body, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			if rerr != nil {
				return out, md, err
			}
			var e struct {
				Code    string `xml:"Errors>Error>Code"`
				Message string `xml:"Errors>Error>Message"`
			}
			if xml.Unmarshal(body, &e) != nil || e.Code == "" {
				resp.Body = io.NopCloser(bytes.NewReader(body))
				return out, md, err
			}
			return out, md, &smithy.GenericAPIError{Code: e.Code, Message: e.Message + " (moto's IAM check)", Fault: smithy.FaultClient}
		}), middleware.After)
}

// Calls counts the AWS API calls one principal makes, by "Service.Operation"
// (every attempt the SDK makes counts once: retries are calls too).
type Calls struct {
	mu sync.Mutex
	n  map[string]int
}

// Snapshot returns the counts so far.
func (c *Calls) Snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

func (c *Calls) middleware(st *middleware.Stack) error {
	return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("LocalCallCounter",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			if c.n == nil {
				c.n = map[string]int{}
			}
			c.n[awsmiddleware.GetServiceID(ctx)+"."+awsmiddleware.GetOperationName(ctx)]++
			c.mu.Unlock()
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}
