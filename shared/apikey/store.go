package apikey

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/retention"
	"github.com/uniasset/integrations/shared/systemlog"
	"github.com/uniasset/integrations/shared/tenant"
)

// Store keeps keys in IntegrationsTable: the key at keyschema.APIKey, and a
// lookup item at keyschema.KeyLookup pointing to it. The lookup is a base-table
// item rather than a GSI so that a key works on the very next request after it
// is created: GSI reads are only eventually consistent.
type Store struct {
	DB    dynamo.API
	Table string
	Now   func() time.Time // the clock; nil is time.Now
	// Retention is how long the System entries of rolls are kept.
	Retention retention.Policy
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func keyKey(tenantID, id string) map[string]types.AttributeValue {
	return keyschema.APIKey(tenantID, id).Attrs()
}

func lookupKey(lookup string) map[string]types.AttributeValue {
	return keyschema.KeyLookup(lookup).Attrs()
}

type lookupItem struct {
	TenantID string `dynamodbav:"tenantId"`
	KeyID    string `dynamodbav:"keyId"`
}

// Create writes the key and its lookup item in one transaction; both or neither exist.
func (s *Store) Create(ctx context.Context, k Key) error {
	item, err := attributevalue.MarshalMap(k)
	if err != nil {
		return err
	}
	for n, v := range keyKey(k.TenantID, k.ID) {
		item[n] = v
	}
	lk, err := attributevalue.MarshalMap(lookupItem{TenantID: k.TenantID, KeyID: k.ID})
	if err != nil {
		return err
	}
	for n, v := range lookupKey(k.Lookup) {
		lk[n] = v
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.Table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{Put: &types.Put{TableName: aws.String(s.Table), Item: lk, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
	}})
	if dynamo.ConditionFailed(err) {
		// 64 random bits colliding is not a client error; let the caller retry with a fresh key.
		return errCollision
	}
	return dynamo.Translate("create api key", err)
}

var errCollision = apierror.New(apierror.Conflict, "key collision; try again")

// Roll writes next (and its lookup item) and sets old to end at until and
// name next as its successor, with a System entry, in one transaction: old
// only while it still works and was not rolled (a concurrent roll or
// revocation wins, and this one writes nothing).
func (s *Store) Roll(ctx context.Context, old, next Key, until, by string, now time.Time) error {
	item, err := attributevalue.MarshalMap(next)
	if err != nil {
		return err
	}
	for n, v := range keyKey(next.TenantID, next.ID) {
		item[n] = v
	}
	lk, err := attributevalue.MarshalMap(lookupItem{TenantID: next.TenantID, KeyID: next.ID})
	if err != nil {
		return err
	}
	for n, v := range lookupKey(next.Lookup) {
		lk[n] = v
	}
	entry, err := systemlog.Item(systemlog.Entry{
		TenantID: old.TenantID, Event: systemlog.KeyRolled, ResourceType: "apiKey", ResourceID: old.ID, ResourceName: old.Name,
		Status: "rolled", Details: fmt.Sprintf("rolled by %s to %s (%s…); %s… works until %s", by, next.ID, next.Prefix, old.Prefix, until),
	}, now, s.Retention)
	if err != nil {
		return err
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.Table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{Put: &types.Put{TableName: aws.String(s.Table), Item: lk, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{Update: &types.Update{
			TableName: aws.String(s.Table), Key: keyKey(old.TenantID, old.ID),
			// A new end: the key moves to that day's expiry partition, and its
			// notices are due again.
			UpdateExpression:         aws.String("SET validUntil = :until, rolledTo = :to, #day = :day REMOVE noticedExpiring, noticedExpired"),
			ExpressionAttributeNames: map[string]string{"#day": keyschema.ByResourcePK},
			ConditionExpression: aws.String("attribute_exists(PK) AND attribute_not_exists(revokedAt) AND attribute_not_exists(rolledTo) AND " +
				"(attribute_not_exists(validUntil) OR validUntil > :now)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":until": &types.AttributeValueMemberS{Value: until}, ":to": &types.AttributeValueMemberS{Value: next.ID},
				":day": &types.AttributeValueMemberS{Value: expiryDay(until)},
				":now": &types.AttributeValueMemberS{Value: isotime.Format(now)},
			},
		}},
		{Put: &types.Put{TableName: aws.String(s.Table), Item: entry, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
	}})
	switch failed := dynamo.CancelledAt(err); {
	case err == nil:
		return nil
	case len(failed) == 4 && (failed[0] || failed[1]):
		return errCollision
	case len(failed) == 4 && failed[2]:
		return apierror.New(apierror.Conflict, "the key was revoked, rolled or expired meanwhile; reload the registry")
	}
	return dynamo.Translate("roll api key", err)
}

// List returns every key of the tenant, revoked ones included (kept for audit), oldest first.
func (s *Store) List(ctx context.Context, tenantID string) ([]Key, error) {
	return dynamo.ListPrefix[Key](ctx, s.DB, "list api keys", s.Table, keyschema.TenantPK(tenantID), keyschema.APIKeyPrefix)
}

// Revoke marks the key revoked. Revoking a revoked key changes nothing and
// returns it as it is; an unknown id (or another tenant's) is NOT_FOUND.
func (s *Store) Revoke(ctx context.Context, tenantID, id, by string) (Key, error) {
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.Table),
		Key:                 keyKey(tenantID, id),
		UpdateExpression:    aws.String("SET revokedAt = :now, revokedBy = :by"),
		ConditionExpression: aws.String("attribute_exists(PK) AND attribute_not_exists(revokedAt)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": &types.AttributeValueMemberS{Value: isotime.Format(s.now())},
			":by":  &types.AttributeValueMemberS{Value: by},
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if dynamo.ConditionFailed(err) {
		k, found, gerr := s.Get(ctx, tenantID, id)
		if gerr != nil {
			return Key{}, gerr
		}
		if !found {
			return Key{}, apierror.New(apierror.NotFound, "no API key %q", id)
		}
		return k, nil
	}
	if err != nil {
		return Key{}, dynamo.Translate("revoke api key", err)
	}
	var k Key
	err = attributevalue.UnmarshalMap(out.Attributes, &k)
	return k, err
}

// Get reads one key with a strongly consistent read.
func (s *Store) Get(ctx context.Context, tenantID, id string) (Key, bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: keyKey(tenantID, id), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Key{}, false, dynamo.Translate("get api key", err)
	}
	if out.Item == nil {
		return Key{}, false, nil
	}
	var k Key
	err = attributevalue.UnmarshalMap(out.Item, &k)
	return k, err == nil, err
}

// resolve finds which tenant and key id a lookup prefix belongs to.
func (s *Store) resolve(ctx context.Context, lookup string) (lookupItem, bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: lookupKey(lookup), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return lookupItem{}, false, dynamo.Translate("resolve api key", err)
	}
	if out.Item == nil {
		return lookupItem{}, false, nil
	}
	var li lookupItem
	err = attributevalue.UnmarshalMap(out.Item, &li)
	return li, err == nil, err
}

// getWithProfile reads a key and its tenant's profile in one consistent BatchGetItem:
// the one DynamoDB call a request with a cached key pays for authentication.
func (s *Store) getWithProfile(ctx context.Context, tenantID, id string) (Key, bool, tenant.Profile, error) {
	var (
		k       Key
		found   bool
		profile tenant.Profile
	)
	key := dynamo.Read{Table: s.Table, Key: keyKey(tenantID, id), Found: func(item map[string]types.AttributeValue) error {
		found = true
		return attributevalue.UnmarshalMap(item, &k)
	}}
	profiles := &tenant.Store{DB: s.DB, Table: s.Table} // profiles live beside the keys
	err := dynamo.GetTogether(ctx, s.DB, "get api key", key, profiles.Read(tenantID, &profile))
	return k, found && err == nil, profile, err
}

// touch records use of the key, and where from, at most once per interval:
// the condition keeps concurrent Lambda instances from all writing in the
// same minute.
func (s *Store) touch(ctx context.Context, tenantID, id string, at, cutoff, ip, userAgent string) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.Table),
		Key:                 keyKey(tenantID, id),
		UpdateExpression:    aws.String("SET lastUsedAt = :at, lastUsedIp = :ip, lastUsedUserAgent = :ua"),
		ConditionExpression: aws.String("attribute_exists(PK) AND (attribute_not_exists(lastUsedAt) OR lastUsedAt < :cutoff)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":at":     &types.AttributeValueMemberS{Value: at},
			":cutoff": &types.AttributeValueMemberS{Value: cutoff},
			":ip":     &types.AttributeValueMemberS{Value: ip},
			":ua":     &types.AttributeValueMemberS{Value: userAgent},
		},
	})
	if dynamo.ConditionFailed(err) {
		return nil
	}
	return dynamo.Translate("touch api key", err)
}

// Update applies c to key id of the tenant, with a System entry saying
// what changed and who changed it, in one transaction, and only while the
// key works (a key revoked or past its end meanwhile is a conflict, and
// nothing is written). It returns the key as it now is; the next request
// with it meets the change (records are read on every request).
func (s *Store) Update(ctx context.Context, tenantID, id string, c KeyChange, by string, now time.Time) (Key, error) {
	k, found, err := s.Get(ctx, tenantID, id)
	switch {
	case err != nil:
		return Key{}, err
	case !found:
		return Key{}, apierror.New(apierror.NotFound, "no API key %q", id)
	case !k.Works(now):
		return Key{}, apierror.New(apierror.Conflict, "a revoked or expired key cannot be changed; create a new key")
	}
	var sets, removes, changed []string
	values := map[string]types.AttributeValue{":now": &types.AttributeValueMemberS{Value: isotime.Format(now)}}
	if c.Name != nil {
		sets = append(sets, "#name = :name")
		values[":name"] = &types.AttributeValueMemberS{Value: *c.Name}
		changed = append(changed, fmt.Sprintf("name: %q", *c.Name))
	}
	if c.AllowedIPs != nil {
		if len(*c.AllowedIPs) == 0 {
			removes = append(removes, "allowedIps")
			changed = append(changed, "allowedIps: anywhere")
		} else {
			v, err := attributevalue.Marshal(*c.AllowedIPs)
			if err != nil {
				return Key{}, err
			}
			sets, values[":ips"] = append(sets, "allowedIps = :ips"), v
			changed = append(changed, fmt.Sprintf("allowedIps: %d network(s)", len(*c.AllowedIPs)))
		}
	}
	if c.RateLimit.Set {
		if c.RateLimit.Limit == nil {
			removes = append(removes, "rateLimit")
			changed = append(changed, "rateLimit: the tenant's only")
		} else {
			v, err := attributevalue.Marshal(c.RateLimit.Limit)
			if err != nil {
				return Key{}, err
			}
			sets, values[":limit"] = append(sets, "rateLimit = :limit"), v
			changed = append(changed, fmt.Sprintf("rateLimit: %d a %s", c.RateLimit.Limit.Requests, c.RateLimit.Limit.Per))
		}
	}
	expr := ""
	if len(sets) > 0 {
		expr = "SET " + strings.Join(sets, ", ")
	}
	if len(removes) > 0 {
		expr += " REMOVE " + strings.Join(removes, ", ")
	}
	entry, err := systemlog.Item(systemlog.Entry{
		TenantID: tenantID, Event: systemlog.KeyUpdated, ResourceType: "apiKey", ResourceID: id, ResourceName: k.Name,
		Status: "updated", Details: fmt.Sprintf("changed by %s: %s", by, strings.Join(changed, "; ")),
	}, now, s.Retention)
	if err != nil {
		return Key{}, err
	}
	update := &types.Update{
		TableName: aws.String(s.Table), Key: keyKey(tenantID, id), UpdateExpression: aws.String(strings.TrimSpace(expr)),
		ConditionExpression:       aws.String("attribute_exists(PK) AND attribute_not_exists(revokedAt) AND (attribute_not_exists(validUntil) OR validUntil > :now)"),
		ExpressionAttributeValues: values,
	}
	if c.Name != nil {
		update.ExpressionAttributeNames = map[string]string{"#name": "name"}
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: update},
		{Put: &types.Put{TableName: aws.String(s.Table), Item: entry, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
	}})
	if failed := dynamo.CancelledAt(err); len(failed) == 2 && failed[0] {
		return Key{}, apierror.New(apierror.Conflict, "the key was revoked or expired meanwhile; reload the registry")
	}
	if err != nil {
		return Key{}, dynamo.Translate("update api key", err)
	}
	k, _, err = s.Get(ctx, tenantID, id)
	return k, err
}
