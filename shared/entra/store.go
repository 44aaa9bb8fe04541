package entra

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
	"github.com/uniasset/integrations/shared/retention"
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
	// Retention is how long the System entries it writes are kept.
	Retention retention.Policy
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
		"statusReason = :none, connectedAt = :now, connectedBy = :by, consentedBy = :consent, #byResource = :scheduled"
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
	}, now, s.Retention)
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
			ExpressionAttributeNames:  map[string]string{"#status": "status", "#domain": "domain", "#byResource": keyschema.ByResourcePK},
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
	}, now, s.Retention)
	if err != nil {
		return err
	}
	claim := keyschema.EntraClaim(c.MicrosoftTenantID)
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(s.Table), Key: keyschema.EntraConnection(tenantID).Attrs(),
			// A sync running now loses its lease: it writes nothing more, and
			// a reconnect may sync at once.
			UpdateExpression:          aws.String("SET #status = :off, statusReason = :why REMOVE #byResource, approvedDigest, leaseUntil, leaseId"),
			ConditionExpression:       aws.String("microsoftTenantId = :microsoftTenant AND #status <> :off"),
			ExpressionAttributeNames:  map[string]string{"#status": "status", "#byResource": keyschema.ByResourcePK},
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
	}, now, s.Retention)
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
