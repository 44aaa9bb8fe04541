package cost

import (
	"context"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/uniasset/integrations/shared/dynamo"
)

// Meter tallies the request units DynamoDB bills for the calls of the
// clients it is added to (Middleware, Add). To size what a call touches it
// reads through the client Peek gave it, uncounted: the item before and after a write (a
// write is billed on the larger, whole item, whatever the update
// touched), the whole item behind a projected read, the items a Query
// read before its filter. It learns each table's keys and indexes from
// DescribeTable, so index writes are billed as DynamoDB bills them.
//
// Its figures assume one writer at a time per item (the peeks are not
// atomic with the write): the cost bench drives one event at a time. Where
// AWS's documentation leaves a case open, the choice is written below.
type Meter struct {
	mu      sync.Mutex
	peeker  *dynamodb.Client
	schemas map[string]schema
	tally   Tally
}

// Peek starts the meter: it sizes items through db, a client without the
// meter. Until then calls pass unmetered (a stack's start).
func (m *Meter) Peek(db *dynamodb.Client) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.peeker = db
}

func (m *Meter) client() *dynamodb.Client {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peeker
}

// Tally is what a run consumed.
type Tally struct {
	WRU, RRU float64 // write and read request units, tables and indexes
	// Index is the part of WRU that index writes took.
	Index float64
	// By is the same by call: operation and table ("UpdateItem
	// IntegrationsTable"; a transaction's tables joined by "+").
	By map[string]Part
}

// Part is what one kind of call consumed.
type Part struct {
	Calls    int
	WRU, RRU float64
}

// Take returns the tally so far and starts a new one.
func (m *Meter) Take() Tally {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tally
	m.tally = Tally{}
	return t
}

func (m *Meter) add(op string, tables []string, wru, rru, index float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tally.By == nil {
		m.tally.By = map[string]Part{}
	}
	slices.Sort(tables)
	by := op + " " + strings.Join(slices.Compact(tables), "+")
	p := m.tally.By[by]
	p.Calls++
	p.WRU += wru
	p.RRU += rru
	m.tally.By[by] = p
	m.tally.WRU += wru
	m.tally.RRU += rru
	m.tally.Index += index
}

type index struct {
	name      string
	keys      []string
	all, only bool     // projection ALL; KEYS_ONLY
	include   []string // INCLUDE's non-key attributes
}

type schema struct {
	keys    []string
	indexes []index
}

func (m *Meter) schema(ctx context.Context, table string) (schema, error) {
	m.mu.Lock()
	s, ok := m.schemas[table]
	m.mu.Unlock()
	if ok {
		return s, nil
	}
	out, err := m.client().DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return schema{}, err
	}
	for _, k := range out.Table.KeySchema {
		s.keys = append(s.keys, aws.ToString(k.AttributeName))
	}
	for _, g := range out.Table.GlobalSecondaryIndexes {
		ix := index{name: aws.ToString(g.IndexName)}
		for _, k := range g.KeySchema {
			ix.keys = append(ix.keys, aws.ToString(k.AttributeName))
		}
		if p := g.Projection; p != nil {
			ix.all = p.ProjectionType == types.ProjectionTypeAll
			ix.only = p.ProjectionType == types.ProjectionTypeKeysOnly
			ix.include = p.NonKeyAttributes
		}
		s.indexes = append(s.indexes, ix)
	}
	m.mu.Lock()
	if m.schemas == nil {
		m.schemas = map[string]schema{}
	}
	m.schemas[table] = s
	m.mu.Unlock()
	return s, nil
}

// peek reads a whole item, uncounted (nil: none).
func (m *Meter) peek(ctx context.Context, table string, key map[string]types.AttributeValue) map[string]types.AttributeValue {
	out, err := m.client().GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil
	}
	return out.Item
}

func keyOf(s schema, item map[string]types.AttributeValue) map[string]types.AttributeValue {
	k := map[string]types.AttributeValue{}
	for _, n := range s.keys {
		k[n] = item[n]
	}
	return k
}

// entry is item as index ix holds it (nil: the item is not in it, a
// sparse index's rule: every index key attribute must be present).
func (ix index) entry(s schema, item map[string]types.AttributeValue) map[string]types.AttributeValue {
	if item == nil {
		return nil
	}
	for _, k := range ix.keys {
		if item[k] == nil {
			return nil
		}
	}
	if ix.all {
		return item
	}
	e := map[string]types.AttributeValue{}
	for _, names := range [][]string{s.keys, ix.keys, ix.include} {
		for _, n := range names {
			if v := item[n]; v != nil {
				e[n] = v
			}
		}
	}
	return e
}

// written bills one write of an item that was before and is after (nil:
// absent). A write refused by its condition is billed on the item as it
// is and writes no index. transactional doubles the table's units;
// index writes are billed as standard writes (DynamoDB's documentation
// doubles only the transaction's own items).
func (m *Meter) written(s schema, before, after map[string]types.AttributeValue, refused, transactional bool) (wru, index float64) {
	mult := 1.0
	if transactional {
		mult = 2
	}
	if refused {
		return mult * float64(WriteUnits(ItemSize(before))), 0
	}
	wru = mult * float64(WriteUnits(max(ItemSize(before), ItemSize(after))))
	for _, ix := range s.indexes {
		old, cur := ix.entry(s, before), ix.entry(s, after)
		switch {
		case old == nil && cur == nil:
		case old == nil:
			index += float64(WriteUnits(ItemSize(cur)))
		case cur == nil:
			index += float64(WriteUnits(ItemSize(old)))
		case !sameKeys(ix, old, cur):
			// The entry moves: a delete and a put.
			index += float64(WriteUnits(ItemSize(old)) + WriteUnits(ItemSize(cur)))
		case !reflect.DeepEqual(old, cur):
			index += float64(WriteUnits(max(ItemSize(old), ItemSize(cur))))
		}
	}
	return wru + index, index
}

func sameKeys(ix index, a, b map[string]types.AttributeValue) bool {
	for _, k := range ix.keys {
		if !reflect.DeepEqual(a[k], b[k]) {
			return false
		}
	}
	return true
}

// write runs one single-item write and bills it.
func (m *Meter) write(ctx context.Context, op, table string, key func(schema) map[string]types.AttributeValue, call func() error) {
	s, err := m.schema(ctx, table)
	if err != nil {
		_ = call() // unknown table: the call's own error says why
		return
	}
	k := key(s)
	before := m.peek(ctx, table, k)
	err = call()
	switch {
	case err == nil:
		wru, ix := m.written(s, before, m.peek(ctx, table, k), false, false)
		m.add(op, []string{table}, wru, 0, ix)
	case dynamo.ConditionFailed(err):
		wru, _ := m.written(s, before, nil, true, false)
		m.add(op, []string{table}, wru, 0, 0)
	default:
		m.add(op, []string{table}, 0, 0, 0)
	}
}

// Middleware is an SDK option that meters every DynamoDB call of a client
// built with it (dynamodb.NewFromConfig(cfg, m.Middleware), or
// cfg.APIOptions for every client of a config, as the cost bench wires
// whole functions). It runs at the Initialize step, once per call however
// often the SDK retries it.
func (m *Meter) Middleware(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, m.Add)
}

// Add puts the meter on a middleware stack (an aws.Config's APIOptions: it
// meters the DynamoDB calls and lets every other call through).
func (m *Meter) Add(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("cost.Meter",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (out middleware.InitializeOutput, md middleware.Metadata, err error) {
			call := func() error { out, md, err = next.HandleInitialize(ctx, in); return err }
			if m.client() == nil {
				_ = call()
				return out, md, err
			}
			switch p := in.Parameters.(type) {
			case *dynamodb.PutItemInput:
				m.write(ctx, "PutItem", aws.ToString(p.TableName), func(s schema) map[string]types.AttributeValue { return keyOf(s, p.Item) }, call)
			case *dynamodb.UpdateItemInput:
				m.write(ctx, "UpdateItem", aws.ToString(p.TableName), func(schema) map[string]types.AttributeValue { return p.Key }, call)
			case *dynamodb.DeleteItemInput:
				m.write(ctx, "DeleteItem", aws.ToString(p.TableName), func(schema) map[string]types.AttributeValue { return p.Key }, call)
			case *dynamodb.TransactWriteItemsInput:
				m.transactWrite(ctx, p, call)
			case *dynamodb.BatchWriteItemInput:
				m.batchWrite(ctx, p, call, func() *dynamodb.BatchWriteItemOutput { r, _ := out.Result.(*dynamodb.BatchWriteItemOutput); return r })
			case *dynamodb.GetItemInput:
				_ = call()
				r, _ := out.Result.(*dynamodb.GetItemOutput)
				m.getItem(ctx, p, r, err)
			case *dynamodb.BatchGetItemInput:
				_ = call()
				r, _ := out.Result.(*dynamodb.BatchGetItemOutput)
				m.batchGet(ctx, p, r, err)
			case *dynamodb.QueryInput:
				_ = call()
				r, _ := out.Result.(*dynamodb.QueryOutput)
				m.query(ctx, p, r, err)
			default:
				_ = call()
			}
			return out, md, err
		}), middleware.After)
}

type target struct {
	table string
	s     schema
	key   map[string]types.AttributeValue
	// before is the item before the call.
	before map[string]types.AttributeValue
}

// transactWrite bills a TransactWriteItems: each item is billed twice its
// standard units; a cancelled transaction bills each item as it is (a
// ConditionCheck is billed as a write of the item it checks).
func (m *Meter) transactWrite(ctx context.Context, in *dynamodb.TransactWriteItemsInput, call func() error) {
	var ts []target
	for _, it := range in.TransactItems {
		var t target
		switch {
		case it.Put != nil:
			t.table = aws.ToString(it.Put.TableName)
		case it.Update != nil:
			t.table, t.key = aws.ToString(it.Update.TableName), it.Update.Key
		case it.Delete != nil:
			t.table, t.key = aws.ToString(it.Delete.TableName), it.Delete.Key
		case it.ConditionCheck != nil:
			t.table, t.key = aws.ToString(it.ConditionCheck.TableName), it.ConditionCheck.Key
		}
		s, err := m.schema(ctx, t.table)
		if err != nil {
			_ = call() // unknown table: the call's own error says why
			return
		}
		t.s = s
		if it.Put != nil {
			t.key = keyOf(s, it.Put.Item)
		}
		t.before = m.peek(ctx, t.table, t.key)
		ts = append(ts, t)
	}
	err := call()
	var wru, ix float64
	for i, t := range ts {
		switch {
		case err != nil:
			w, _ := m.written(t.s, t.before, nil, true, true)
			wru += w
		case in.TransactItems[i].ConditionCheck != nil:
			wru += 2 * float64(WriteUnits(ItemSize(t.before)))
		default:
			w, x := m.written(t.s, t.before, m.peek(ctx, t.table, t.key), false, true)
			wru, ix = wru+w, ix+x
		}
	}
	var tables []string
	for _, t := range ts {
		tables = append(tables, t.table)
	}
	m.add("TransactWriteItems", tables, wru, 0, ix)
}

// batchWrite bills a BatchWriteItem: each put or delete is a standard
// write (unprocessed ones are billed when they are sent again).
func (m *Meter) batchWrite(ctx context.Context, in *dynamodb.BatchWriteItemInput, call func() error, result func() *dynamodb.BatchWriteItemOutput) {
	var ts []target
	for table, reqs := range in.RequestItems {
		s, err := m.schema(ctx, table)
		if err != nil {
			_ = call()
			return
		}
		for _, r := range reqs {
			t := target{table: table, s: s}
			if r.PutRequest != nil {
				t.key = keyOf(s, r.PutRequest.Item)
			} else if r.DeleteRequest != nil {
				t.key = r.DeleteRequest.Key
			}
			t.before = m.peek(ctx, table, t.key)
			ts = append(ts, t)
		}
	}
	err := call()
	var wru, ix float64
	if out := result(); err == nil && out != nil {
		for _, t := range ts {
			if unprocessed(out.UnprocessedItems[t.table], t.key) {
				continue
			}
			w, x := m.written(t.s, t.before, m.peek(ctx, t.table, t.key), false, false)
			wru, ix = wru+w, ix+x
		}
	}
	m.add("BatchWriteItem", slices.Collect(maps.Keys(in.RequestItems)), wru, 0, ix)
}

func unprocessed(reqs []types.WriteRequest, key map[string]types.AttributeValue) bool {
	keys := make([]map[string]types.AttributeValue, 0, len(reqs))
	for _, r := range reqs {
		var k map[string]types.AttributeValue
		if r.DeleteRequest != nil {
			k = r.DeleteRequest.Key
		}
		if r.PutRequest != nil {
			k = map[string]types.AttributeValue{}
			for n := range key {
				k[n] = r.PutRequest.Item[n]
			}
		}
		keys = append(keys, k)
	}
	return containsKey(keys, key)
}

// getItem bills a GetItem: on the whole item, however little
// of it the projection returns; a missing item costs the minimum.
func (m *Meter) getItem(ctx context.Context, in *dynamodb.GetItemInput, out *dynamodb.GetItemOutput, err error) {
	var rru float64
	if err == nil && out != nil {
		item := out.Item
		if in.ProjectionExpression != nil && item != nil {
			item = m.peek(ctx, aws.ToString(in.TableName), in.Key)
		}
		rru = ReadUnits(ItemSize(item), aws.ToBool(in.ConsistentRead))
	}
	m.add("GetItem", []string{aws.ToString(in.TableName)}, 0, rru, 0)
}

// batchGet bills a BatchGetItem: each item is rounded up on its own.
func (m *Meter) batchGet(ctx context.Context, in *dynamodb.BatchGetItemInput, out *dynamodb.BatchGetItemOutput, err error) {
	var rru float64
	if err == nil && out != nil {
		for table, ka := range in.RequestItems {
			left := out.UnprocessedKeys[table].Keys
			for _, key := range ka.Keys {
				if containsKey(left, key) {
					continue
				}
				rru += ReadUnits(ItemSize(m.peek(ctx, table, key)), aws.ToBool(ka.ConsistentRead))
			}
		}
	}
	m.add("BatchGetItem", slices.Collect(maps.Keys(in.RequestItems)), 0, rru, 0)
}

func containsKey(keys []map[string]types.AttributeValue, key map[string]types.AttributeValue) bool {
	for _, k := range keys {
		if reflect.DeepEqual(k, key) {
			return true
		}
	}
	return false
}

var placeholder = regexp.MustCompile(`[#:][A-Za-z0-9_]+`)

// query bills a Query: on the total size of the items it
// read, before any filter, rounded up to 4 KB once per page. The items
// read are found by asking again without the filter and projection, from
// the same start, for as many items as it scanned.
func (m *Meter) query(ctx context.Context, in *dynamodb.QueryInput, out *dynamodb.QueryOutput, err error) {
	var rru float64
	if err == nil && out != nil {
		size := 0
		if in.FilterExpression == nil && in.ProjectionExpression == nil && in.Select == "" {
			for _, item := range out.Items {
				size += ItemSize(item)
			}
		} else {
			size = m.readSize(ctx, in, out)
		}
		rru = ReadUnits(size, aws.ToBool(in.ConsistentRead))
	}
	on := aws.ToString(in.TableName)
	if in.IndexName != nil {
		on += "." + aws.ToString(in.IndexName)
	}
	m.add("Query", []string{on}, 0, rru, 0)
}

func (m *Meter) readSize(ctx context.Context, in *dynamodb.QueryInput, out *dynamodb.QueryOutput) int {
	used := map[string]bool{}
	for _, p := range placeholder.FindAllString(aws.ToString(in.KeyConditionExpression), -1) {
		used[p] = true
	}
	if out.ScannedCount == 0 {
		return 0
	}
	q := &dynamodb.QueryInput{
		TableName: in.TableName, IndexName: in.IndexName, KeyConditionExpression: in.KeyConditionExpression,
		ExclusiveStartKey: in.ExclusiveStartKey, ScanIndexForward: in.ScanIndexForward, ConsistentRead: in.ConsistentRead,
		Limit: aws.Int32(out.ScannedCount), // the items it read, however many the filter kept
	}
	for k, v := range in.ExpressionAttributeNames {
		if used[k] {
			if q.ExpressionAttributeNames == nil {
				q.ExpressionAttributeNames = map[string]string{}
			}
			q.ExpressionAttributeNames[k] = v
		}
	}
	for k, v := range in.ExpressionAttributeValues {
		if used[k] {
			if q.ExpressionAttributeValues == nil {
				q.ExpressionAttributeValues = map[string]types.AttributeValue{}
			}
			q.ExpressionAttributeValues[k] = v
		}
	}
	again, err := m.client().Query(ctx, q)
	if err != nil {
		return 0
	}
	size := 0
	for _, item := range again.Items {
		size += ItemSize(item)
	}
	return size
}
