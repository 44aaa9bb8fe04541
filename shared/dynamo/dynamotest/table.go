// Package dynamotest is an in-memory DynamoDB for unit tests: the reads the
// stores make (GetItem, BatchGetItem, Query on the table or its ByResource
// index), plain, create-only or revision-checked PutItem and plain DeleteItem. Anything else it refuses with an
// error rather than guessing, so a test can pass only on what it really
// models; conditional updates and transactions are proven against moto.
// Contract runs the same checks against this fake and against moto (the
// local stack's tests call it), so the two agree on what the fake does.
package dynamotest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/keyschema"
)

// Index is the one secondary index the table has: keyschema.ByResource,
// keyed by keyschema.ByResourcePK and SK, projecting everything.
const Index = keyschema.ByResource

// Table holds every table's items by partition and sort key.
type Table struct {
	mu     sync.Mutex
	tables map[string]map[string]item // table → PK "\x00" SK → item
}

type item = map[string]types.AttributeValue

// New returns the named tables, empty; a call naming another table fails
// as DynamoDB's ResourceNotFoundException does.
func New(tables ...string) *Table {
	t := &Table{tables: map[string]map[string]item{}}
	for _, n := range tables {
		t.tables[n] = map[string]item{}
	}
	return t
}

// ErrUnsupported is what a call the fake does not model returns.
var ErrUnsupported = errors.New("dynamotest: not modelled; prove it against moto")

func str(it item, name string) (string, bool) {
	v, ok := it[name].(*types.AttributeValueMemberS)
	if !ok {
		return "", false
	}
	return v.Value, true
}

// primary is where a key (exactly PK and SK, strings) is stored.
func primary(key item) (string, error) {
	if len(key) != 2 {
		return "", fmt.Errorf("dynamotest: ValidationException: a key is PK and SK alone, got %d attributes", len(key))
	}
	return itemKey(key)
}

// itemKey is where an item (with string PK and SK among its attributes) is stored.
func itemKey(it item) (string, error) {
	pk, ok1 := str(it, "PK")
	sk, ok2 := str(it, "SK")
	if !ok1 || !ok2 {
		return "", errors.New("dynamotest: ValidationException: PK and SK must be strings")
	}
	return pk + "\x00" + sk, nil
}

func (t *Table) table(name *string) (map[string]item, error) {
	items, ok := t.tables[aws.ToString(name)]
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Requested resource not found: " + aws.ToString(name))}
	}
	return items, nil
}

// GetItem reads one item (always consistent).
func (t *Table) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if in.ProjectionExpression != nil {
		return nil, ErrUnsupported
	}
	k, err := primary(in.Key)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	items, err := t.table(in.TableName)
	if err != nil {
		return nil, err
	}
	return &dynamodb.GetItemOutput{Item: clone(items[k])}, nil
}

// BatchGetItem reads every key at once (none left unprocessed).
func (t *Table) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{}}
	for name, ka := range in.RequestItems {
		if ka.ProjectionExpression != nil {
			return nil, ErrUnsupported
		}
		items, err := t.table(&name)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, key := range ka.Keys {
			k, err := primary(key)
			if err != nil {
				return nil, err
			}
			if seen[k] {
				return nil, errors.New("dynamotest: ValidationException: Provided list of item keys contains duplicates")
			}
			seen[k] = true
			if it := items[k]; it != nil {
				out.Responses[name] = append(out.Responses[name], clone(it))
			}
		}
	}
	return out, nil
}

// PutItem writes an item, unconditionally or only if it does not exist yet.
func (t *Table) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	// The conditions modelled: none, create-only, and one attribute equal
	// to a value (a revision check).
	onlyNew, equalName, equalValue := false, "", types.AttributeValue(nil)
	switch c := aws.ToString(in.ConditionExpression); {
	case c == "":
	case c == "attribute_not_exists(PK)":
		onlyNew = true
	case equality.MatchString(c):
		m := equality.FindStringSubmatch(c)
		equalName, equalValue = m[1], in.ExpressionAttributeValues[m[2]]
		if equalValue == nil {
			return nil, fmt.Errorf("dynamotest: ValidationException: no value for %s", m[2])
		}
	default:
		return nil, fmt.Errorf("%w: condition %q", ErrUnsupported, c)
	}
	k, err := itemKey(in.Item)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	items, err := t.table(in.TableName)
	if err != nil {
		return nil, err
	}
	if (onlyNew && items[k] != nil) || (equalName != "" && !reflect.DeepEqual(items[k][equalName], equalValue)) {
		return nil, &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	}
	items[k] = clone(in.Item)
	return &dynamodb.PutItemOutput{}, nil
}

// equality is the condition "name = :value".
var equality = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_]*) = (:[A-Za-z0-9_]+)$`)

// Query reads one partition of the table or the index, in SK order, with
// the key conditions the stores use: "K = :pk", optionally "AND SK < :before",
// "AND begins_with(SK, :sk)" or "AND SK BETWEEN :lo AND :hi".
func (t *Table) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if in.ExclusiveStartKey != nil || in.FilterExpression != nil || in.ProjectionExpression != nil {
		return nil, ErrUnsupported
	}
	keyAttr := "PK"
	switch aws.ToString(in.IndexName) {
	case "":
	case Index:
		keyAttr = keyschema.ByResourcePK
		if aws.ToBool(in.ConsistentRead) {
			return nil, errors.New("dynamotest: consistent reads are not supported on global secondary indexes")
		}
	default:
		return nil, fmt.Errorf("dynamotest: no index %q", aws.ToString(in.IndexName))
	}
	values := in.ExpressionAttributeValues
	pk, ok := str(values, ":pk")
	if !ok {
		return nil, errors.New("dynamotest: ValidationException: the key condition needs a string :pk")
	}
	var keep func(sk string) bool
	switch cond := aws.ToString(in.KeyConditionExpression); cond {
	case keyAttr + " = :pk":
		keep = func(string) bool { return true }
	case keyAttr + " = :pk AND SK < :before":
		before, _ := str(values, ":before")
		keep = func(sk string) bool { return sk < before }
	case keyAttr + " = :pk AND begins_with(SK, :sk)":
		prefix, _ := str(values, ":sk")
		keep = func(sk string) bool { return strings.HasPrefix(sk, prefix) }
	case keyAttr + " = :pk AND SK BETWEEN :lo AND :hi":
		lo, _ := str(values, ":lo")
		hi, _ := str(values, ":hi")
		if lo > hi {
			return nil, errors.New("dynamotest: ValidationException: BETWEEN's lower bound is above its upper bound")
		}
		keep = func(sk string) bool { return lo <= sk && sk <= hi }
	default:
		return nil, fmt.Errorf("%w: key condition %q", ErrUnsupported, cond)
	}
	t.mu.Lock()
	items, err := t.table(in.TableName)
	if err != nil {
		t.mu.Unlock()
		return nil, err
	}
	var found []item
	for _, it := range items {
		p, _ := str(it, keyAttr)
		sk, _ := str(it, "SK")
		if p == pk && keep(sk) {
			found = append(found, clone(it))
		}
	}
	t.mu.Unlock()
	slices.SortFunc(found, func(a, b item) int {
		x, _ := str(a, "SK")
		y, _ := str(b, "SK")
		return strings.Compare(x, y)
	})
	if in.ScanIndexForward != nil && !*in.ScanIndexForward {
		slices.Reverse(found)
	}
	out := &dynamodb.QueryOutput{}
	if in.Limit != nil && len(found) >= int(*in.Limit) { // DynamoDB says "maybe more" on reaching the limit
		found = found[:*in.Limit]
		last := found[len(found)-1]
		out.LastEvaluatedKey = item{"PK": last["PK"], "SK": last["SK"]}
		if keyAttr != "PK" {
			out.LastEvaluatedKey[keyAttr] = last[keyAttr]
		}
	}
	out.Items, out.Count = found, int32(len(found))
	return out, nil
}

// UpdateItem is not modelled: conditional updates are proven against moto.
func (t *Table) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, ErrUnsupported
}

// DeleteItem removes an item (unconditionally; deleting nothing is no error).
func (t *Table) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if in.ConditionExpression != nil {
		return nil, fmt.Errorf("%w: conditional delete", ErrUnsupported)
	}
	k, err := primary(in.Key)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	items, err := t.table(in.TableName)
	if err != nil {
		return nil, err
	}
	delete(items, k)
	return &dynamodb.DeleteItemOutput{}, nil
}

// BatchWriteItem puts and deletes unconditionally, up to 25 at a time, as
// DynamoDB does; it leaves nothing unprocessed (DynamoDB may, under load:
// callers resend UnprocessedItems, which this never exercises).
func (t *Table) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	n := 0
	for _, writes := range in.RequestItems {
		n += len(writes)
	}
	if n == 0 || n > 25 {
		return nil, fmt.Errorf("dynamotest: ValidationException: %d writes in a batch (1 to 25)", n)
	}
	for table, writes := range in.RequestItems {
		for _, w := range writes {
			var err error
			switch {
			case w.PutRequest != nil:
				_, err = t.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: w.PutRequest.Item})
			case w.DeleteRequest != nil:
				_, err = t.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: w.DeleteRequest.Key})
			default:
				err = errors.New("dynamotest: ValidationException: a write request with neither put nor delete")
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return &dynamodb.BatchWriteItemOutput{}, nil
}

// TransactWriteItems is not modelled.
func (t *Table) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return nil, ErrUnsupported
}

// clone copies an item's top level, so callers cannot change what is stored.
func clone(it item) item {
	if it == nil {
		return nil
	}
	out := make(item, len(it))
	for k, v := range it {
		out[k] = v
	}
	return out
}
