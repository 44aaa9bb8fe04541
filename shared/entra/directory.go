package entra

// The directory as the sync last read it: groups and the accounts it made.

import (
	"context"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/parallel"
)

// Groups reads the directory's security groups as last read.
func (s *Store) Groups(ctx context.Context, tenantID string) ([]Group, error) {
	return dynamo.ListPrefix[Group](ctx, s.DB, "list entra groups", s.Table, keyschema.EntraGroupPK(tenantID), "")
}

// ReplaceGroups makes the stored groups equal fresh, writing only what
// differs from old (a directory that did not change costs no write).
func (s *Store) ReplaceGroups(ctx context.Context, tenantID string, old, fresh []Group) (int, error) {
	was := map[string]Group{}
	for _, g := range old {
		was[g.ID] = g
	}
	var reqs []types.WriteRequest
	pk := keyschema.EntraGroupPK(tenantID)
	for _, g := range fresh {
		o, ok := was[g.ID]
		delete(was, g.ID)
		if ok && o == g {
			continue
		}
		item, err := attributevalue.MarshalMap(g)
		if err != nil {
			return 0, err
		}
		item["PK"], item["SK"] = sv(pk), sv(g.ID)
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	for id := range was {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: keyschema.Key{PK: pk, SK: id}.Attrs()}})
	}
	return len(reqs), s.batchWrite(ctx, "write entra groups", reqs)
}

// Accounts reads every account the sync created for the tenant, by Entra
// object id (all shards, concurrently).
func (s *Store) Accounts(ctx context.Context, tenantID string) (map[string]Account, error) {
	shards := make([][]Account, AccountShards)
	err := parallel.Each(ctx, AccountShards, AccountShards, func(ctx context.Context, i int) (err error) {
		shards[i], err = dynamo.ListPrefix[Account](ctx, s.DB, "list entra accounts", s.Table, keyschema.EntraAccountPK(tenantID, i), "")
		return err
	})
	if err != nil {
		return nil, err
	}
	out := map[string]Account{}
	for _, sh := range shards {
		for _, a := range sh {
			out[a.EntraID] = a
		}
	}
	return out, nil
}

// WriteAccounts stores accounts (whole items), 25 a call.
func (s *Store) WriteAccounts(ctx context.Context, tenantID string, accounts []Account) error {
	reqs := make([]types.WriteRequest, 0, len(accounts))
	for _, a := range accounts {
		item, err := attributevalue.MarshalMap(a)
		if err != nil {
			return err
		}
		item["PK"], item["SK"] = sv(keyschema.EntraAccountPK(tenantID, shardOf(a.EntraID))), sv(a.EntraID)
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	return s.batchWrite(ctx, "write entra accounts", reqs)
}

// writeConcurrency is how many batch writes a sync has in flight.
const writeConcurrency = 8

// batchWrite writes reqs 25 a call, several calls at once, sending again
// what DynamoDB leaves unprocessed (it does under throttling) after a wait.
func (s *Store) batchWrite(ctx context.Context, op string, reqs []types.WriteRequest) error {
	n := (len(reqs) + 24) / 25
	return parallel.Each(ctx, n, writeConcurrency, func(ctx context.Context, i int) error {
		batch := reqs[i*25 : min(len(reqs), (i+1)*25)]
		for try := 0; len(batch) > 0; try++ {
			if try == 8 {
				return apierror.New(apierror.Throttled, "%s: DynamoDB left writes unprocessed", op)
			}
			if try > 0 {
				dynamo.BackOff(ctx, try)
			}
			out, err := s.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.Table: batch}})
			if err != nil {
				return dynamo.Translate(op, err)
			}
			batch = out.UnprocessedItems[s.Table]
		}
		return nil
	})
}

// AccountPage is one page of GET /entra/users.
type AccountPage struct {
	Accounts []Account
	Next     string // cursor for the next page; "" at the end
}

// ListAccounts reads up to limit accounts from a cursor ("" for the first
// page), shard after shard. Cursors are "<shard>:<last entra id>".
func (s *Store) ListAccounts(ctx context.Context, tenantID, cursor string, limit int) (AccountPage, error) {
	shard, after := 0, ""
	if cursor != "" {
		sh, id, ok := cutCursor(cursor)
		if !ok {
			return AccountPage{}, apierror.Invalid(apierror.FieldError{Field: "cursor", Issue: "is not a cursor this API returned"})
		}
		shard, after = sh, id
	}
	var page AccountPage
	for ; shard < AccountShards; shard, after = shard+1, "" {
		in := &dynamodb.QueryInput{
			TableName: aws.String(s.Table), KeyConditionExpression: aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": sv(keyschema.EntraAccountPK(tenantID, shard))},
			Limit:                     aws.Int32(int32(limit - len(page.Accounts))),
		}
		if after != "" {
			in.ExclusiveStartKey = keyschema.Key{PK: keyschema.EntraAccountPK(tenantID, shard), SK: after}.Attrs()
		}
		out, err := s.DB.Query(ctx, in)
		if err != nil {
			return AccountPage{}, dynamo.Translate("list entra accounts", err)
		}
		var batch []Account
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &batch); err != nil {
			return AccountPage{}, err
		}
		page.Accounts = append(page.Accounts, batch...)
		if len(page.Accounts) >= limit {
			if out.LastEvaluatedKey != nil {
				page.Next = strconv.Itoa(shard) + ":" + page.Accounts[len(page.Accounts)-1].EntraID
			} else if shard+1 < AccountShards {
				page.Next = strconv.Itoa(shard+1) + ":"
			}
			return page, nil
		}
	}
	return page, nil
}

func cutCursor(c string) (int, string, bool) {
	sh, id, ok := strings.Cut(c, ":")
	n, err := strconv.Atoi(sh)
	return n, id, ok && err == nil && n >= 0 && n < AccountShards && (id == "" || ValidGUID(id))
}
