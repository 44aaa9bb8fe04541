package asset

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
)

// Store writes assets and their records to AssetsTable. Every method takes the
// tenant from the caller's credential; ids are only ever looked up inside it.
type Store struct {
	DB    dynamo.API
	Table string
	Now   func() time.Time // the clock; nil is time.Now
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// NewID returns a fresh asset id.
func NewID() string { return "asset_" + strings.ToLower(ulid.Make().String()) }

// ErrExists means an asset or maintenance record with the requested id is
// already stored: only an idempotent retry that derives the same id can meet it.
var ErrExists = apierror.New(apierror.Conflict, "the record already exists")

// Create stores a new asset. An externalId is claimed in the same transaction,
// so two creates with one externalId cannot both succeed; so is the mark.
func (s *Store) Create(ctx context.Context, tenantID, assetID, actor string, in CreateInput, mark Mark) (Asset, error) {
	at := isotime.Format(s.now())
	it := item{
		PK: keyschema.AssetPK(tenantID, assetID), SK: keyschema.AssetSK, Entity: "asset", TenantID: tenantID, AssetID: assetID,
		ExternalID: in.ExternalID, AssetName: in.Name, CategoryName: in.CategoryName, StatusName: in.StatusName,
		Description: in.Description, SerialNumber: in.SerialNumber, Version: 1,
		Type: in.Type, ExpiresAt: in.ExpiresAt, WarrantyExpiresAt: in.WarrantyExpiresAt,
		CreatedAt: at, CreatedBy: actor, UpdatedAt: at, UpdatedBy: actor,
	}
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return Asset{}, err
	}
	put := types.Put{TableName: aws.String(s.Table), Item: av, ConditionExpression: aws.String("attribute_not_exists(PK)")}
	if in.ExternalID == nil && mark == nil {
		_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: put.TableName, Item: put.Item, ConditionExpression: put.ConditionExpression})
		if dynamo.ConditionFailed(err) {
			return Asset{}, ErrExists
		}
		return it.asset(), dynamo.Translate("create asset", err)
	}
	items := []types.TransactWriteItem{{Put: &put}}
	externalAt, markAt := -1, -1
	if in.ExternalID != nil {
		claim := keyschema.ExternalID(tenantID, *in.ExternalID).Attrs()
		claim["entity"] = &types.AttributeValueMemberS{Value: "externalId"}
		claim["assetId"] = &types.AttributeValueMemberS{Value: assetID}
		externalAt, items = len(items), append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.Table), Item: claim, ConditionExpression: aws.String("attribute_not_exists(PK)")}})
	}
	if mark != nil {
		markAt, items = len(items), append(items, *mark)
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if failed := dynamo.CancelledAt(err); failed != nil {
		switch {
		case failed[0]:
			return Asset{}, ErrExists
		case externalAt > 0 && len(failed) > externalAt && failed[externalAt]:
			return Asset{}, apierror.New(apierror.Conflict, "externalId %q is already used by another asset", *in.ExternalID)
		case markAt > 0 && len(failed) > markAt && failed[markAt]:
			return Asset{}, ErrClaimLost
		}
	}
	return it.asset(), dynamo.Translate("create asset", err)
}

// Get reads an asset; found is false when the tenant has no such asset.
func (s *Store) Get(ctx context.Context, tenantID, assetID string) (Asset, bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: keyschema.Asset(tenantID, assetID).Attrs(), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Asset{}, false, dynamo.Translate("get asset", err)
	}
	if out.Item == nil {
		return Asset{}, false, nil
	}
	var it item
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return Asset{}, false, err
	}
	return it.asset(), true, nil
}

// Resolve turns a Ref into an asset id within the tenant. An unknown externalId
// is NOT_FOUND; an assetId is checked by the write that follows.
func (s *Store) Resolve(ctx context.Context, tenantID string, ref Ref) (string, error) {
	if ref.AssetID != nil {
		return *ref.AssetID, nil
	}
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: keyschema.ExternalID(tenantID, *ref.ExternalID).Attrs(), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", dynamo.Translate("resolve externalId", err)
	}
	id, ok := out.Item["assetId"].(*types.AttributeValueMemberS)
	if !ok {
		return "", apierror.New(apierror.NotFound, "no asset with externalId %q", *ref.ExternalID)
	}
	return id.Value, nil
}

func notFound(assetID string) error { return apierror.New(apierror.NotFound, "no asset %q", assetID) }

// Mark is an extra write made in the same transaction as an asset write: the
// idempotency claim's record of it (idempotency.Claim.Mark). Nil for none.
type Mark = *types.TransactWriteItem

// ErrClaimLost means the write was refused because the request's idempotency
// claim was taken over by a retry: nothing was written.
var ErrClaimLost = apierror.New(apierror.IdempotencyInProgress, "a retry of this request took it over; nothing was written")

// update applies an update expression to an existing asset, bumping version and
// updatedAt, and returns the asset as stored afterwards. With a mark, the
// write and the mark are one transaction.
func (s *Store) update(ctx context.Context, tenantID, assetID, actor string, upd expression.UpdateBuilder, cond expression.ConditionBuilder, mark Mark) (Asset, error) {
	upd = upd.Set(expression.Name("updatedAt"), expression.Value(isotime.Format(s.now()))).
		Set(expression.Name("updatedBy"), expression.Value(actor)).
		Add(expression.Name("version"), expression.Value(1))
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return Asset{}, err
	}
	k := keyschema.Asset(tenantID, assetID).Attrs()
	if mark != nil {
		_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{
				TableName: aws.String(s.Table), Key: k, UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
				ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
			}},
			*mark,
		}})
		failed := dynamo.CancelledAt(err)
		switch {
		case len(failed) > 0 && failed[0]:
			return Asset{}, errConditionFailed
		case len(failed) > 1 && failed[1]:
			return Asset{}, ErrClaimLost
		case err != nil:
			return Asset{}, err
		}
		// A transaction returns no values: read the asset back.
		a, found, err := s.Get(ctx, tenantID, assetID)
		if err == nil && !found {
			err = notFound(assetID) // deleted in the instant since
		}
		return a, err
	}
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: k,
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues: types.ReturnValueAllNew,
	})
	if dynamo.ConditionFailed(err) {
		return Asset{}, errConditionFailed
	}
	if err != nil {
		return Asset{}, err
	}
	var it item
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return Asset{}, err
	}
	return it.asset(), nil
}

// errConditionFailed is update's report that the asset's own condition failed;
// each caller says what that means.
var errConditionFailed = errors.New("asset condition failed")

var exists = expression.AttributeExists(expression.Name("PK"))

func setOrRemove(u expression.UpdateBuilder, name string, n *Nullable) expression.UpdateBuilder {
	switch {
	case !n.Set:
		return u
	case n.Null:
		return u.Remove(expression.Name(name))
	default:
		return u.Set(expression.Name(name), expression.Value(n.Value))
	}
}

// Update changes the given fields of an asset.
func (s *Store) Update(ctx context.Context, tenantID, assetID, actor string, in UpdateInput, mark Mark) (Asset, error) {
	var u expression.UpdateBuilder
	for name, v := range map[string]*string{"assetName": in.Name, "categoryName": in.CategoryName, "statusName": in.StatusName} {
		if v != nil {
			u = u.Set(expression.Name(name), expression.Value(*v))
		}
	}
	u = setOrRemove(u, "description", &in.Description)
	u = setOrRemove(u, "serialNumber", &in.SerialNumber)
	u = setOrRemove(u, "type", &in.Type)
	u = setOrRemove(u, "expiresAt", &in.ExpiresAt)
	u = setOrRemove(u, "warrantyExpiresAt", &in.WarrantyExpiresAt)
	a, err := s.update(ctx, tenantID, assetID, actor, u, exists, mark)
	if errors.Is(err, errConditionFailed) {
		return Asset{}, notFound(assetID)
	}
	return a, dynamo.Translate("update asset", err)
}

// Assign sets or clears the asset's user and department.
func (s *Store) Assign(ctx context.Context, tenantID, assetID, actor string, in AssignmentInput, mark Mark) (Asset, error) {
	u := expression.Set(expression.Name("assignedAt"), expression.Value(isotime.Format(s.now())))
	u = setOrRemove(u, "assignedUserId", &in.UserID)
	u = setOrRemove(u, "assignedDepartmentId", &in.DepartmentID)
	a, err := s.update(ctx, tenantID, assetID, actor, u, exists, mark)
	if errors.Is(err, errConditionFailed) {
		return Asset{}, notFound(assetID)
	}
	return a, dynamo.Translate("assign asset", err)
}

// SetPosition records a position unless a newer one is already stored: devices
// retry and reorder, and an old reading must never overwrite a newer one.
// applied is false when the stored position was newer and was kept.
func (s *Store) SetPosition(ctx context.Context, tenantID, assetID, actor string, in GeoPositionInput, mark Mark) (a Asset, applied bool, err error) {
	recordedAt := isotime.Format(s.now())
	if in.RecordedAt != nil {
		recordedAt = *in.RecordedAt
	}
	gp := GeoPosition{Latitude: *in.Latitude, Longitude: *in.Longitude, Accuracy: in.Accuracy, RecordedAt: recordedAt}
	cond := exists.And(expression.Or(
		expression.AttributeNotExists(expression.Name("geoPosition")),
		expression.Name("geoPosition.recordedAt").LessThanEqual(expression.Value(recordedAt)),
	))
	a, err = s.update(ctx, tenantID, assetID, actor, expression.Set(expression.Name("geoPosition"), expression.Value(gp)), cond, mark)
	if errors.Is(err, errConditionFailed) {
		current, found, gerr := s.Get(ctx, tenantID, assetID)
		switch {
		case gerr != nil:
			return Asset{}, false, gerr
		case !found:
			return Asset{}, false, notFound(assetID)
		}
		return current, false, nil
	}
	return a, err == nil, dynamo.Translate("set asset position", err)
}

// AddMaintenance stores a maintenance record, in one transaction with a check
// that the asset exists in this tenant.
func (s *Store) AddMaintenance(ctx context.Context, tenantID, assetID, maintenanceID, actor string, in MaintenanceInput, mark Mark) (Maintenance, error) {
	m := Maintenance{
		MaintenanceID: maintenanceID, AssetID: assetID, Title: in.Title,
		Description: in.Description, DueAt: in.DueAt, PerformedAt: in.PerformedAt, CreatedAt: isotime.Format(s.now()),
	}
	m.Status = "scheduled"
	if m.PerformedAt != nil {
		m.Status = "completed"
	}
	av, err := attributevalue.MarshalMap(m)
	if err != nil {
		return Maintenance{}, err
	}
	for k, v := range keyschema.Maintenance(tenantID, assetID, m.MaintenanceID).Attrs() {
		av[k] = v
	}
	av["entity"] = &types.AttributeValueMemberS{Value: "maintenance"}
	av["tenantId"] = &types.AttributeValueMemberS{Value: tenantID}
	av["createdBy"] = &types.AttributeValueMemberS{Value: actor}
	if err := s.addRecord(ctx, tenantID, assetID, av, mark, "add maintenance"); err != nil {
		return Maintenance{}, err
	}
	return m, nil
}

// addRecord puts a new record (maintenance, document) in its asset's
// partition, in one transaction with a check that the asset exists in this
// tenant and with the mark: NOT_FOUND without the asset, ErrExists when the
// id is taken (only a retry deriving the same id meets one), ErrClaimLost.
func (s *Store) addRecord(ctx context.Context, tenantID, assetID string, av map[string]types.AttributeValue, mark Mark, op string) error {
	items := []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String(s.Table), Key: keyschema.Asset(tenantID, assetID).Attrs(), ConditionExpression: aws.String("attribute_exists(PK)")}},
		{Put: &types.Put{TableName: aws.String(s.Table), Item: av, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
	}
	if mark != nil {
		items = append(items, *mark)
	}
	_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	failed := dynamo.CancelledAt(err)
	switch {
	case len(failed) > 0 && failed[0]:
		return notFound(assetID)
	case len(failed) > 1 && failed[1]:
		return ErrExists
	case len(failed) > 2 && failed[2]:
		return ErrClaimLost
	}
	return dynamo.Translate(op, err)
}

// getRecord reads one record of an asset's partition as T; found is false
// when there is none.
func getRecord[T any](ctx context.Context, s *Store, k keyschema.Key, op string) (T, bool, error) {
	var v T
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: k.Attrs(), ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		return v, false, dynamo.Translate(op, err)
	}
	err = attributevalue.UnmarshalMap(out.Item, &v)
	return v, err == nil, err
}

// AddDocument links a new document to an asset, in one transaction with a
// check that the asset exists in this tenant (and the mark).
func (s *Store) AddDocument(ctx context.Context, tenantID, assetID, documentID, actor string, in DocumentInput, mark Mark) (Document, error) {
	at := isotime.Format(s.now())
	d := Document{DocumentID: documentID, AssetID: assetID, Name: in.Name, Description: in.Description, ExpiresAt: in.ExpiresAt, CreatedAt: at, UpdatedAt: at}
	av, err := attributevalue.MarshalMap(d)
	if err != nil {
		return Document{}, err
	}
	for k, v := range keyschema.Document(tenantID, assetID, documentID).Attrs() {
		av[k] = v
	}
	av["entity"] = &types.AttributeValueMemberS{Value: "document"}
	av["tenantId"] = &types.AttributeValueMemberS{Value: tenantID}
	av["createdBy"] = &types.AttributeValueMemberS{Value: actor}
	av["updatedBy"] = &types.AttributeValueMemberS{Value: actor}
	if err := s.addRecord(ctx, tenantID, assetID, av, mark, "add document"); err != nil {
		return Document{}, err
	}
	return d, nil
}

// UpdateDocument changes the given fields of a linked document; NOT_FOUND
// if the asset has no such document.
func (s *Store) UpdateDocument(ctx context.Context, tenantID, assetID, actor string, in DocumentUpdateInput, mark Mark) (Document, error) {
	u := expression.Set(expression.Name("updatedAt"), expression.Value(isotime.Format(s.now()))).
		Set(expression.Name("updatedBy"), expression.Value(actor))
	if in.Name != nil {
		u = u.Set(expression.Name("name"), expression.Value(*in.Name))
	}
	u = setOrRemove(u, "description", &in.Description)
	u = setOrRemove(u, "expiresAt", &in.ExpiresAt)
	missing := apierror.New(apierror.NotFound, "asset %q has no document %q", assetID, in.DocumentID)
	return updateRecord[Document](ctx, s, keyschema.Document(tenantID, assetID, in.DocumentID), u, mark, missing, "update document")
}

// UpdateMaintenance changes the given fields of a maintenance record;
// NOT_FOUND if the asset has no such record. Its status follows
// performedAt: completed once set, scheduled again when cleared.
func (s *Store) UpdateMaintenance(ctx context.Context, tenantID, assetID, actor string, in MaintenanceUpdateInput, mark Mark) (Maintenance, error) {
	u := expression.Set(expression.Name("updatedAt"), expression.Value(isotime.Format(s.now()))).
		Set(expression.Name("updatedBy"), expression.Value(actor))
	if in.Title != nil {
		u = u.Set(expression.Name("title"), expression.Value(*in.Title))
	}
	u = setOrRemove(u, "description", &in.Description)
	u = setOrRemove(u, "dueAt", &in.DueAt)
	u = setOrRemove(u, "performedAt", &in.PerformedAt)
	switch {
	case in.PerformedAt.Set && in.PerformedAt.Null:
		u = u.Set(expression.Name("status"), expression.Value("scheduled"))
	case in.PerformedAt.Set:
		u = u.Set(expression.Name("status"), expression.Value("completed"))
	}
	missing := apierror.New(apierror.NotFound, "asset %q has no maintenance record %q", assetID, in.MaintenanceID)
	return updateRecord[Maintenance](ctx, s, keyschema.Maintenance(tenantID, assetID, in.MaintenanceID), u, mark, missing, "update maintenance")
}

// updateRecord applies u to an existing record of an asset (with the mark,
// in one transaction) and returns the record after it; missing when there
// is no such record.
func updateRecord[T any](ctx context.Context, s *Store, key keyschema.Key, u expression.UpdateBuilder, mark Mark, missing error, op string) (T, error) {
	var zero T
	expr, err := expression.NewBuilder().WithUpdate(u).WithCondition(exists).Build()
	if err != nil {
		return zero, err
	}
	k := key.Attrs()
	update := &types.Update{TableName: aws.String(s.Table), Key: k, UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}
	if mark != nil {
		_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{Update: update}, *mark}})
		failed := dynamo.CancelledAt(err)
		switch {
		case len(failed) > 0 && failed[0]:
			return zero, missing
		case len(failed) > 1 && failed[1]:
			return zero, ErrClaimLost
		case err != nil:
			return zero, dynamo.Translate(op, err)
		}
		v, found, err := getRecord[T](ctx, s, key, op)
		if err == nil && !found {
			err = missing
		}
		return v, err
	}
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: update.TableName, Key: k, UpdateExpression: update.UpdateExpression,
		ConditionExpression: update.ConditionExpression, ExpressionAttributeNames: update.ExpressionAttributeNames,
		ExpressionAttributeValues: update.ExpressionAttributeValues, ReturnValues: types.ReturnValueAllNew})
	if dynamo.ConditionFailed(err) {
		return zero, missing
	}
	if err != nil {
		return zero, dynamo.Translate(op, err)
	}
	var v T
	return v, attributevalue.UnmarshalMap(out.Attributes, &v)
}

// GetDocument reads one linked document of an asset.
func (s *Store) GetDocument(ctx context.Context, tenantID, assetID, documentID string) (Document, bool, error) {
	return getRecord[Document](ctx, s, keyschema.Document(tenantID, assetID, documentID), "get document")
}

// NewDocumentID returns a fresh document id.
func NewDocumentID() string { return "doc_" + strings.ToLower(ulid.Make().String()) }

// NewMaintenanceID returns a fresh maintenance record id.
func NewMaintenanceID() string { return "mnt_" + strings.ToLower(ulid.Make().String()) }

// GetMaintenance reads one maintenance record of an asset.
func (s *Store) GetMaintenance(ctx context.Context, tenantID, assetID, maintenanceID string) (Maintenance, bool, error) {
	return getRecord[Maintenance](ctx, s, keyschema.Maintenance(tenantID, assetID, maintenanceID), "get maintenance")
}
