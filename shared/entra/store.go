package entra

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
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
	"github.com/uniasset/integrations/shared/msgraph"
	"github.com/uniasset/integrations/shared/parallel"
	"github.com/uniasset/integrations/shared/systemlog"
	"github.com/uniasset/integrations/shared/tenant"
)

// Store keeps connections, consent requests, groups and accounts in
// IntegrationsTable.
type Store struct {
	DB    dynamo.API // batched writes too: a first sync of a large directory writes thousands of accounts
	Table string
	// Index is the table's ByResource GSI, where connected tenants are listed.
	Index string
}

// ResourceType names the connection in System entries.
const ResourceType = "entra"

func sv(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func nv(n int) types.AttributeValue    { return &types.AttributeValueMemberN{Value: strconv.Itoa(n)} }

// Get reads the tenant's connection (the zero Connection if it never connected).
func (s *Store) Get(ctx context.Context, tenantID string) (Connection, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: keyschema.EntraConnection(tenantID).Attrs(), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Connection{}, dynamo.Translate("get entra connection", err)
	}
	var c Connection
	if out.Item != nil {
		if err := attributevalue.UnmarshalMap(out.Item, &c); err != nil {
			return Connection{}, fmt.Errorf("entra connection: %w", err)
		}
	}
	return c, nil
}

// consentRequest is one step of a pending connect, under its state's hash:
// the sign-in (stage signin, with its PKCE verifier and nonce), then the
// admin consent for the Microsoft tenant and user the sign-in proved (stage
// consent).
type consentRequest struct {
	TenantID    string `dynamodbav:"tenantId"`
	Subject     string `dynamodbav:"subject"`
	Stage       string `dynamodbav:"stage"`
	RedirectURI string `dynamodbav:"redirectUri"`
	// The sign-in: the tenant segment it asked Microsoft for, and the
	// secrets only this state's holder may redeem its code with.
	SignInTenant string `dynamodbav:"signInTenant,omitempty"`
	Verifier     string `dynamodbav:"verifier,omitempty"`
	Nonce        string `dynamodbav:"nonce,omitempty"`
	// The consent: who signed in, where.
	MicrosoftTenantID string `dynamodbav:"microsoftTenantId,omitempty"`
	ObjectID          string `dynamodbav:"objectId,omitempty"`
	Username          string `dynamodbav:"username,omitempty"`

	// ExpiresAt is when it stops working, and the table's TTL attribute
	// (unix seconds; TTL deletes it later, at DynamoDB's leisure).
	ExpiresAt int64 `dynamodbav:"expiresAt"`
}

// PutState stores a connect step until it expires.
func (s *Store) PutState(ctx context.Context, stateHash string, req consentRequest, expires time.Time) error {
	req.ExpiresAt = expires.Unix()
	item, err := attributevalue.MarshalMap(req)
	if err != nil {
		return err
	}
	k := keyschema.EntraState(stateHash)
	item["PK"], item["SK"] = sv(k.PK), sv(k.SK)
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item})
	return dynamo.Translate("put consent state", err)
}

// TakeState takes a consent request and returns it: a state works once.
// ok is false for one never issued, already used, or expired.
//
// The take is an update that marks the request with a token of this call,
// not a delete: should its answer be lost and the SDK send it again, the
// retry meets its own mark and returns the request (a delete's retry would
// find nothing, and the admin's genuine callback would read as a used
// state); any other callback meets another mark and is refused. The taken
// request is then deleted (its TTL removes it should that fail).
func (s *Store) TakeState(ctx context.Context, stateHash string, now time.Time) (req consentRequest, ok bool, err error) {
	token := make([]byte, 16)
	if _, err := rand.Read(token); err != nil {
		return req, false, err
	}
	k := keyschema.EntraState(stateHash)
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: k.Attrs(),
		UpdateExpression:          aws.String("SET takenBy = :token"),
		ConditionExpression:       aws.String("attribute_exists(PK) AND (attribute_not_exists(takenBy) OR takenBy = :token)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":token": sv(hex.EncodeToString(token))},
		ReturnValues:              types.ReturnValueAllNew,
	})
	if dynamo.ConditionFailed(err) {
		return req, false, nil // never issued, or taken by another callback
	}
	if err != nil {
		return req, false, dynamo.Translate("take consent state", err)
	}
	if err := attributevalue.UnmarshalMap(out.Attributes, &req); err != nil {
		return req, false, err
	}
	if _, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.Table), Key: k.Attrs()}); err != nil {
		slog.Warn("entra connect: a taken consent state could not be deleted; its TTL removes it", "error", err.Error())
	}
	return req, now.Unix() < req.ExpiresAt, nil
}

// ErrClaimed: the Microsoft tenant is connected to another UniAsset tenant.
var ErrClaimed = errors.New("entra: the Microsoft tenant is connected to another UniAsset tenant")

// ErrRaced: the connection changed between Connect's read and its write
// (another connect finishing at the same moment); reading again settles it.
var ErrRaced = errors.New("entra: the connection changed meanwhile")

// ErrOtherTenant: the UniAsset tenant is connected to another Microsoft tenant.
var ErrOtherTenant = errors.New("entra: connected to another Microsoft tenant")

// Connect records a proven connection: the claim on the Microsoft tenant,
// the connection (listed for the schedule) and its System entry, in one
// transaction. Reconnecting the same Microsoft tenant (after
// reauth_required) keeps mappings and settings; a different one needs the
// old one disconnected first, and starts from no mappings. consentedBy is
// the Microsoft account that signed in and consented.
func (s *Store) Connect(ctx context.Context, tenantID, subject, consentedBy string, org msgraph.Organization, now time.Time) error {
	old, err := s.Get(ctx, tenantID)
	if err != nil {
		return err
	}
	if old.Active() && old.MicrosoftTenantID != org.ID {
		return ErrOtherTenant
	}
	claim := keyschema.EntraClaim(org.ID)
	conn := keyschema.EntraConnection(tenantID)
	update := "SET tenantId = :t, microsoftTenantId = :microsoftTenant, #domain = :domain, organizationName = :org, #status = :connected, " +
		"statusReason = :none, connectedAt = :now, connectedBy = :by, consentedBy = :consent, GSI1PK = :scheduled"
	cond := "attribute_not_exists(microsoftTenantId)"
	vals := map[string]types.AttributeValue{
		":t": sv(tenantID), ":microsoftTenant": sv(org.ID), ":domain": sv(org.DefaultDomain()), ":org": sv(org.DisplayName),
		":connected": sv(string(Connected)), ":none": sv(""), ":now": sv(isotime.Format(now)), ":by": sv(subject), ":consent": sv(consentedBy),
		":scheduled": sv(keyschema.EntraScheduled),
	}
	// A connect's first sync does its full work.
	update += " REMOVE applied, appliedAt"
	if old.MicrosoftTenantID != "" {
		cond, vals[":old"] = "microsoftTenantId = :old", sv(old.MicrosoftTenantID)
		if old.MicrosoftTenantID != org.ID {
			// Another directory: its mappings and holds mean nothing here.
			update += ", mappings, held, approvedDigest, groupsReadAt, groupsStale"
		}
	}
	entry, err := systemlog.Item(systemlog.Entry{
		TenantID: tenantID, Event: "entra.connected", ResourceType: ResourceType, ResourceID: org.ID,
		ResourceName: org.DefaultDomain(), Status: string(Connected), Details: "connected by " + subject + ", consented in Microsoft by " + consentedBy,
	}, now)
	if err != nil {
		return err
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{
			TableName:                 aws.String(s.Table),
			Item:                      map[string]types.AttributeValue{"PK": sv(claim.PK), "SK": sv(claim.SK), "tenantId": sv(tenantID)},
			ConditionExpression:       aws.String("attribute_not_exists(PK) OR tenantId = :t"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": sv(tenantID)},
		}},
		{Update: &types.Update{
			TableName: aws.String(s.Table), Key: conn.Attrs(), UpdateExpression: aws.String(update),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  map[string]string{"#status": "status", "#domain": "domain"},
			ExpressionAttributeValues: vals,
		}},
		{Put: &types.Put{TableName: aws.String(s.Table), Item: entry}},
	}})
	if at := dynamo.CancelledAt(err); len(at) == 3 {
		switch {
		case at[0]:
			return ErrClaimed
		case at[1]:
			return ErrRaced
		}
	}
	return dynamo.Translate("connect entra", err)
}

// Disconnect stops syncing: the connection stays (settings, mappings, the
// last result) with status disconnected, off the schedule; the Microsoft
// tenant's claim is released; accounts are kept as they are.
func (s *Store) Disconnect(ctx context.Context, tenantID, subject string, now time.Time) error {
	c, err := s.Get(ctx, tenantID)
	if err != nil {
		return err
	}
	if !c.Active() {
		return apierror.New(apierror.Conflict, "not connected")
	}
	entry, err := systemlog.Item(systemlog.Entry{
		TenantID: tenantID, Event: "entra.disconnected", ResourceType: ResourceType, ResourceID: c.MicrosoftTenantID,
		ResourceName: c.Domain, Status: string(Disconnected), Details: "disconnected by " + subject + "; synced accounts kept",
	}, now)
	if err != nil {
		return err
	}
	claim := keyschema.EntraClaim(c.MicrosoftTenantID)
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(s.Table), Key: keyschema.EntraConnection(tenantID).Attrs(),
			// A sync running now loses its lease: it writes nothing more, and
			// a reconnect may sync at once.
			UpdateExpression:          aws.String("SET #status = :off, statusReason = :why REMOVE GSI1PK, approvedDigest, leaseUntil, leaseId"),
			ConditionExpression:       aws.String("microsoftTenantId = :microsoftTenant AND #status <> :off"),
			ExpressionAttributeNames:  map[string]string{"#status": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":off": sv(string(Disconnected)), ":microsoftTenant": sv(c.MicrosoftTenantID), ":why": sv("disconnected by " + subject)},
		}},
		{Delete: &types.Delete{
			TableName: aws.String(s.Table), Key: claim.Attrs(),
			ConditionExpression:       aws.String("attribute_not_exists(PK) OR tenantId = :t"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": sv(tenantID)},
		}},
		{Put: &types.Put{TableName: aws.String(s.Table), Item: entry}},
	}})
	if dynamo.ConditionFailed(err) {
		return apierror.New(apierror.Conflict, "the connection changed meanwhile; reload it")
	}
	return dynamo.Translate("disconnect entra", err)
}

// update applies one UpdateItem to a connection of Microsoft tenant microsoftTenantID.
func (s *Store) update(ctx context.Context, op, tenantID, microsoftTenantID, expr string, vals map[string]types.AttributeValue) error {
	vals[":microsoftTenant"] = sv(microsoftTenantID)
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: keyschema.EntraConnection(tenantID).Attrs(),
		UpdateExpression: aws.String(expr), ConditionExpression: aws.String("microsoftTenantId = :microsoftTenant"),
		ExpressionAttributeValues: vals,
	})
	if dynamo.ConditionFailed(err) {
		return apierror.New(apierror.Conflict, "the connection changed meanwhile; reload it")
	}
	return dynamo.Translate(op, err)
}

// SetMappings replaces the group mappings of the connection to microsoftTenantID.
func (s *Store) SetMappings(ctx context.Context, tenantID, microsoftTenantID string, m map[string]tenant.Role) error {
	av, err := attributevalue.Marshal(m)
	if err != nil {
		return err
	}
	return s.update(ctx, "set entra mappings", tenantID, microsoftTenantID, "SET mappings = :m", map[string]types.AttributeValue{":m": av})
}

// ErrSettingsChanged: the settings changed since they were read.
var ErrSettingsChanged = errors.New("entra: the settings changed meanwhile")

// SetSettings replaces the settings of the connection to microsoftTenantID if they are
// still at version (the connection's SettingsVersion when read; 0: never
// set), so two changes at once cannot lose one.
func (s *Store) SetSettings(ctx context.Context, tenantID, microsoftTenantID string, version int, st Settings) error {
	av, err := attributevalue.Marshal(st)
	if err != nil {
		return err
	}
	cond := "microsoftTenantId = :microsoftTenant AND attribute_not_exists(settingsVersion)"
	vals := map[string]types.AttributeValue{":s": av, ":microsoftTenant": sv(microsoftTenantID), ":next": nv(version + 1)}
	if version > 0 {
		cond, vals[":v"] = "microsoftTenantId = :microsoftTenant AND settingsVersion = :v", nv(version)
	}
	_, err = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: keyschema.EntraConnection(tenantID).Attrs(),
		UpdateExpression: aws.String("SET settings = :s, settingsVersion = :next"), ConditionExpression: aws.String(cond),
		ExpressionAttributeValues: vals,
	})
	if dynamo.ConditionFailed(err) {
		return ErrSettingsChanged
	}
	return dynamo.Translate("set entra settings", err)
}

// Approve records an Owner's approval of the held removals named by digest,
// with its System entry; the next sync applies them. A set that changed
// since the Owner looked is a conflict: they must look again.
func (s *Store) Approve(ctx context.Context, tenantID, digest, subject string, now time.Time) error {
	c, err := s.Get(ctx, tenantID)
	if err != nil {
		return err
	}
	if !c.Active() || c.Held == nil {
		return apierror.New(apierror.Conflict, "no removals are held")
	}
	entry, err := systemlog.Item(systemlog.Entry{
		TenantID: tenantID, Event: "entra.removals_approved", ResourceType: ResourceType, ResourceID: c.MicrosoftTenantID,
		ResourceName: c.Domain, Status: "approved", Details: fmt.Sprintf("%d held removals approved by %s", c.Held.Count, subject),
	}, now)
	if err != nil {
		return err
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(s.Table), Key: keyschema.EntraConnection(tenantID).Attrs(),
			UpdateExpression:          aws.String("SET approvedDigest = :d"),
			ConditionExpression:       aws.String("held.digest = :d AND #status <> :off"),
			ExpressionAttributeNames:  map[string]string{"#status": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":d": sv(digest), ":off": sv(string(Disconnected))},
		}},
		{Put: &types.Put{TableName: aws.String(s.Table), Item: entry}},
	}})
	if dynamo.ConditionFailed(err) {
		return apierror.New(apierror.Conflict, "the held removals changed since they were shown; review them again")
	}
	return dynamo.Translate("approve entra removals", err)
}

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
	entry, err := systemlog.Item(f.Entry, now)
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
		KeyConditionExpression:    aws.String("GSI1PK = :p"),
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
