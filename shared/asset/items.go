package asset

import (
	"context"
	"maps"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/keyschema"
)

// Items reads AssetsTable's items as they are stored, whoever wrote them
// (this product or the main app), for the features that watch them: the
// asset of a record, and many items at once. Other packages name no
// AssetsTable attribute: they decode items with this package's functions.
type Items struct {
	DB    dynamo.API
	Table string
}

// Scanner reads the whole table a page at a time (the alerts' backfill).
type Scanner struct {
	DB    ScanAPI
	Table string
}

// ScanAPI is the DynamoDB client with Scan, which only the alerts' backfill
// uses (dynamo.API leaves it out on purpose: nothing else may scan).
type ScanAPI interface {
	dynamo.API
	Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Asset reads an asset's item, consistently, decoded; nil when there is none.
func (r *Items) Asset(ctx context.Context, tenantID, assetID string) (*Item, error) {
	out, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(r.Table), Key: keyschema.Asset(tenantID, assetID).Attrs(), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, dynamo.Translate("read an asset", err)
	}
	return Decode(out.Item), nil
}

// Many reads the items of keys (each once), consistently, decoded, a
// BatchGetItem of up to 100 at a time; an item that does not exist is
// absent from the answer.
func (r *Items) Many(ctx context.Context, op string, keys []keyschema.Key) (map[keyschema.Key]*Item, error) {
	out := map[keyschema.Key]*Item{}
	for start := 0; start < len(keys); start += 100 {
		var reads []dynamo.Read
		for _, k := range keys[start:min(start+100, len(keys))] {
			reads = append(reads, dynamo.Read{Table: r.Table, Key: k.Attrs(), Found: func(item map[string]types.AttributeValue) error {
				out[k] = Decode(item)
				return nil
			}})
		}
		if err := dynamo.GetTogether(ctx, r.DB, op, reads...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Page is one page of a scan of the table from cursor (nil: its start), of
// at most limit items (0: DynamoDB's 1 MB), decoded; next is nil at the end.
func (r *Scanner) Page(ctx context.Context, cursor map[string]types.AttributeValue, limit int32) (items []*Item, next map[string]types.AttributeValue, err error) {
	in := &dynamodb.ScanInput{TableName: aws.String(r.Table), ExclusiveStartKey: cursor}
	if limit > 0 {
		in.Limit = aws.Int32(limit)
	}
	page, err := r.DB.Scan(ctx, in)
	if err != nil {
		return nil, nil, dynamo.Translate("scan assets", err)
	}
	if len(page.LastEvaluatedKey) > 0 {
		next = page.LastEvaluatedKey
	}
	for _, it := range page.Items {
		items = append(items, Decode(it))
	}
	return items, next, nil
}

// Dates are an item's keys and the dates alerts watch, read as stored: an
// attribute of another type than a string (the main app wrote a number,
// say) reads as absent, so nothing is watched rather than a guess.
type Dates struct {
	PK, SK            string
	Type              string // asset: DocumentType makes ExpiresAt count
	ExpiresAt         string // asset (document type) or linked document
	WarrantyExpiresAt string // asset
	DueAt             string // maintenance record
	PerformedAt       string // maintenance record: set means nothing is due
}

// DatesOf reads the watched dates of an item (a table read or a stream
// image).
func DatesOf(item map[string]types.AttributeValue) Dates {
	s := func(name string) string {
		v, _ := item[name].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		return v.Value
	}
	return Dates{
		PK: s("PK"), SK: s("SK"), Type: s("type"), ExpiresAt: s("expiresAt"),
		WarrantyExpiresAt: s("warrantyExpiresAt"), DueAt: s("dueAt"), PerformedAt: s("performedAt"),
	}
}

// incidentFromItem is an incident as incident.created carries it: the main
// app's attributes passed through, without the table's keys and
// bookkeeping, with its ids.
func incidentFromItem(assetID, incidentID string, item map[string]types.AttributeValue) map[string]any {
	var m map[string]any
	_ = attributevalue.UnmarshalMap(item, &m)
	out := maps.Clone(m)
	if out == nil {
		out = map[string]any{}
	}
	for _, k := range []string{"PK", "SK", "entity", "tenantId", keyschema.ByResourcePK, keyschema.ByResourceSK} {
		delete(out, k)
	}
	out["incidentId"], out["assetId"] = incidentID, assetID
	return out
}
