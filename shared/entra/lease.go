package entra

// The sync lease: one sync of a tenant at a time, and what it finishes with.

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/systemlog"
	"github.com/uniasset/integrations/shared/tenant"
)

// Acquire takes the tenant's sync lease until until, so two syncs (the
// schedule and "sync now") never run at once; it returns the connection,
// or ok false when it is not connected or another sync holds the lease
// (busy: the connection is active, so the job should come back later).
func (s *Store) Acquire(ctx context.Context, tenantID, leaseID string, now, until time.Time) (c Connection, ok, busy bool, err error) {
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: keyschema.EntraConnection(tenantID).Attrs(),
		UpdateExpression: aws.String("SET leaseUntil = :until, leaseId = :id"),
		// Free means no lease and no writer: a sync that lost its lease to a
		// disconnect may still be landing writes, and a sync reading the
		// accounts meanwhile would plan from a state about to change.
		ConditionExpression: aws.String("attribute_exists(microsoftTenantId) AND #status <> :off AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)" +
			" AND (attribute_not_exists(writerUntil) OR writerUntil < :now)"),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":until": sv(isotime.Format(until)), ":id": sv(leaseID), ":off": sv(string(Disconnected)), ":now": sv(isotime.Format(now))},
		ReturnValues:              types.ReturnValueAllNew,
	})
	if dynamo.ConditionFailed(err) {
		c, err := s.Get(ctx, tenantID)
		return c, false, err == nil && c.Active(), err
	}
	if err != nil {
		return c, false, false, dynamo.Translate("acquire entra sync", err)
	}
	if err := attributevalue.UnmarshalMap(out.Attributes, &c); err != nil {
		return c, false, false, err
	}
	return c, true, false, nil
}

// BeginWrites is a sync's step before its first account or group write: it
// checks the sync still holds its lease (ok is false when a disconnect took
// it: write nothing), forgets the Applied fingerprint (a sync that fails
// part way leaves the accounts unlike any fingerprint), and marks the sync
// as the writer until EndWrites, or until `until` if it dies: no other sync
// starts while its writes may still land, lease or not.
func (s *Store) BeginWrites(ctx context.Context, tenantID, leaseID string, until time.Time) (ok bool, err error) {
	_, err = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: keyschema.EntraConnection(tenantID).Attrs(),
		UpdateExpression:          aws.String("SET writer = :id, writerUntil = :until REMOVE applied, appliedAt"),
		ConditionExpression:       aws.String("leaseId = :id"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": sv(leaseID), ":until": sv(isotime.Format(until))},
	})
	if dynamo.ConditionFailed(err) {
		return false, nil
	}
	return err == nil, dynamo.Translate("begin entra writes", err)
}

// EndWrites clears the writer mark BeginWrites set, once the sync's writes
// have returned (written or failed).
func (s *Store) EndWrites(ctx context.Context, tenantID, leaseID string) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: keyschema.EntraConnection(tenantID).Attrs(),
		UpdateExpression:          aws.String("REMOVE writer, writerUntil"),
		ConditionExpression:       aws.String("writer = :id"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": sv(leaseID)},
	})
	if dynamo.ConditionFailed(err) {
		return nil
	}
	return dynamo.Translate("end entra writes", err)
}

// Release gives up the lease of a sync that ends without Finish (an error
// of ours), so the retry or the next tick need not wait for it to expire.
func (s *Store) Release(ctx context.Context, tenantID, leaseID string) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: keyschema.EntraConnection(tenantID).Attrs(),
		UpdateExpression:          aws.String("REMOVE leaseUntil, leaseId"),
		ConditionExpression:       aws.String("leaseId = :id"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": sv(leaseID)},
	})
	if dynamo.ConditionFailed(err) {
		return nil // already released, or taken away
	}
	return dynamo.Translate("release entra lease", err)
}

// Finish is a sync's last write: its result and the connection's status,
// the held set, the lease released, and its System entry, together. It
// writes only if the sync still holds the lease on a connection to the
// same Microsoft tenant (a disconnect meanwhile wins); ok reports that.
type Finish struct {
	TenantID, LeaseID, MicrosoftTenantID string
	Status                               Status
	Reason                               string
	Result                               Result
	GroupsStale                          bool
	Held                                 *Held // nil: none
	ClearApproval                        bool
	Applied                              string // the fingerprint of a plan written in full ("": none)
	Entry                                systemlog.Entry
}

// Finish writes f; ok is false when the lease or the connection changed.
func (s *Store) Finish(ctx context.Context, f Finish, now time.Time) (ok bool, err error) {
	res, err := attributevalue.Marshal(f.Result)
	if err != nil {
		return false, err
	}
	set := "SET #status = :status, statusReason = :reason, lastSyncAt = :now, lastSync = :res, groupsStale = :stale"
	remove := " REMOVE leaseUntil, leaseId"
	vals := map[string]types.AttributeValue{
		":status": sv(string(f.Status)), ":reason": sv(f.Reason), ":now": sv(isotime.Format(now)), ":res": res,
		":stale": &types.AttributeValueMemberBOOL{Value: f.GroupsStale}, ":id": sv(f.LeaseID), ":microsoftTenant": sv(f.MicrosoftTenantID),
		":off": sv(string(Disconnected)),
	}
	if !f.GroupsStale {
		set += ", groupsReadAt = :now"
	}
	switch {
	case f.Held != nil:
		h, err := attributevalue.Marshal(*f.Held)
		if err != nil {
			return false, err
		}
		set, vals[":held"] = set+", held = :held", h
	case f.Status == Connected:
		remove += ", held"
	}
	if f.ClearApproval {
		remove += ", approvedDigest"
	}
	if f.Applied != "" {
		set, vals[":applied"] = set+", applied = :applied, appliedAt = :now", sv(f.Applied)
	}
	entry, err := systemlog.Item(f.Entry, now, s.Retention)
	if err != nil {
		return false, err
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(s.Table), Key: keyschema.EntraConnection(f.TenantID).Attrs(),
			UpdateExpression:          aws.String(set + remove),
			ConditionExpression:       aws.String("leaseId = :id AND microsoftTenantId = :microsoftTenant AND #status <> :off"),
			ExpressionAttributeNames:  map[string]string{"#status": "status"},
			ExpressionAttributeValues: vals,
		}},
		{Put: &types.Put{TableName: aws.String(s.Table), Item: entry}},
	}})
	if dynamo.ConditionFailed(err) {
		return false, nil
	}
	return err == nil, dynamo.Translate("finish entra sync", err)
}

// Scheduled calls f with each page of connected tenants' ids (the
// ByResource index's EntraScheduled partition, never a Scan).
func (s *Store) Scheduled(ctx context.Context, f func(tenantIDs []string) error) error {
	p := dynamodb.NewQueryPaginator(s.DB, &dynamodb.QueryInput{
		TableName: aws.String(s.Table), IndexName: aws.String(s.Index),
		KeyConditionExpression:    aws.String("#byResource = :p"),
		ExpressionAttributeNames:  map[string]string{"#byResource": keyschema.ByResourcePK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": sv(keyschema.EntraScheduled)},
		ProjectionExpression:      aws.String("tenantId"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return dynamo.Translate("list connected tenants", err)
		}
		var ids []string
		for _, it := range page.Items {
			if v, ok := it["tenantId"].(*types.AttributeValueMemberS); ok && tenant.ValidID(v.Value) {
				ids = append(ids, v.Value)
			}
		}
		if len(ids) > 0 {
			if err := f(ids); err != nil {
				return err
			}
		}
	}
	return nil
}
