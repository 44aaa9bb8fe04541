// Package assetevent turns AssetsTable changes (stream records, whoever wrote
// them) into webhook events: which events a change is, and their data.
package assetevent

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
)

// Change is one stream record, decoded once: the change, its item's keys,
// when it happened, and the item before and after (nil where the record has
// none), each decoded by asset.Decode. The router hands it to events and
// alerts alike.
type Change struct {
	EventID, EventName string
	PK, SK             string
	At                 time.Time
	Old, New           *asset.Item
}

// ChangeOf decodes a stream record. Its images fail to decode only when
// they hold a type the stream never sends.
func ChangeOf(r events.DynamoDBEventRecord) (Change, error) {
	c := Change{EventID: r.EventID, EventName: r.EventName, PK: r.Change.Keys["PK"].String(), SK: r.Change.Keys["SK"].String(),
		At: r.Change.ApproximateCreationDateTime.Time}
	if c.At.IsZero() {
		c.At = time.Now()
	}
	old, err := convertImage(r.Change.OldImage)
	if err != nil {
		return Change{}, err
	}
	cur, err := convertImage(r.Change.NewImage)
	if err != nil {
		return Change{}, err
	}
	// The record's keys say which item it is (images carry them too).
	for _, img := range []map[string]types.AttributeValue{old, cur} {
		if img != nil {
			img["PK"], img["SK"] = &types.AttributeValueMemberS{Value: c.PK}, &types.AttributeValueMemberS{Value: c.SK}
		}
	}
	c.Old, c.New = asset.Decode(old), asset.Decode(cur)
	return c, nil
}

// Events returns the events one change stands for (none for items that
// are not events, such as externalId claims, or for removals).
//
//   - asset inserted: asset.created
//   - asset modified: asset.assigned if the user or department changed,
//     geo_position.updated if the position changed, asset.updated if any other
//     field changed (a position report alone is not an asset.updated)
//   - asset removed (by any writer): asset.deleted, with the asset as it was
//   - maintenance inserted: maintenance.created; maintenance modified so that
//     performedAt is set where it was not: maintenance.completed (a record
//     inserted already performed is reported by maintenance.created alone)
//   - incident inserted: incident.created
func Events(c Change) ([]delivery.Event, error) {
	pk, sk := c.PK, c.SK
	tenantID, assetID, ok := keyschema.ParseAssetPK(pk)
	if !ok {
		return nil, nil
	}
	at := c.At
	mk := func(name string, when string, data any) delivery.Event {
		if when == "" {
			when = isotime.Format(at)
		}
		return delivery.Event{SourceID: c.EventID, Name: name, TenantID: tenantID, Time: when, Data: data, AssetID: assetID}
	}
	about := func(e delivery.Event, a asset.Asset) delivery.Event { e.Asset = &a; return e }
	switch {
	case c.EventName == "REMOVE":
		if sk != keyschema.AssetSK || c.Old == nil {
			return nil, nil
		}
		prev, err := typed(c.Old, func(it *asset.Item) *asset.Asset { return it.Asset })
		if err != nil {
			return nil, err
		}
		return []delivery.Event{about(mk("asset.deleted", "", prev), prev)}, nil
	case sk == keyschema.AssetSK:
		cur, err := typed(c.New, func(it *asset.Item) *asset.Asset { return it.Asset })
		if err != nil {
			return nil, err
		}
		if c.EventName == "INSERT" {
			return []delivery.Event{about(mk("asset.created", cur.CreatedAt, cur), cur)}, nil
		}
		prev, err := typed(c.Old, func(it *asset.Item) *asset.Asset { return it.Asset })
		if err != nil {
			return nil, err
		}
		var out []delivery.Event
		if !reflect.DeepEqual(prev.Assignment.UserID, cur.Assignment.UserID) || !reflect.DeepEqual(prev.Assignment.DepartmentID, cur.Assignment.DepartmentID) {
			out = append(out, about(mk("asset.assigned", cur.UpdatedAt, assigned{Asset: cur, PreviousAssignment: prev.Assignment}), cur))
		}
		if !reflect.DeepEqual(prev.GeoPosition, cur.GeoPosition) && cur.GeoPosition != nil {
			out = append(out, about(mk("geo_position.updated", cur.UpdatedAt, positioned{AssetID: cur.AssetID, AssetName: cur.AssetName, ExternalID: cur.ExternalID, GeoPosition: *cur.GeoPosition, PreviousGeoPosition: prev.GeoPosition}), cur))
		}
		if fieldsChanged(prev, cur) {
			out = append(out, about(mk("asset.updated", cur.UpdatedAt, updated{Asset: cur, ChangedFields: asset.ChangedFields(prev, cur)}), cur))
		}
		return out, nil
	case strings.HasPrefix(sk, keyschema.MaintenancePrefix) && c.EventName == "INSERT":
		m, err := typed(c.New, func(it *asset.Item) *asset.Maintenance { return it.Maintenance })
		if err != nil {
			return nil, err
		}
		return []delivery.Event{mk("maintenance.created", m.CreatedAt, m)}, nil
	case strings.HasPrefix(sk, keyschema.MaintenancePrefix) && c.EventName == "MODIFY":
		m, err := typed(c.New, func(it *asset.Item) *asset.Maintenance { return it.Maintenance })
		if err != nil {
			return nil, err
		}
		prev, err := typed(c.Old, func(it *asset.Item) *asset.Maintenance { return it.Maintenance })
		if err != nil {
			return nil, err
		}
		if m.PerformedAt != nil && prev.PerformedAt == nil {
			return []delivery.Event{mk("maintenance.completed", "", m)}, nil
		}
		return nil, nil
	case strings.HasPrefix(sk, keyschema.IncidentPrefix) && c.EventName == "INSERT":
		data := map[string]any{"incidentId": strings.TrimPrefix(sk, keyschema.IncidentPrefix), "assetId": assetID}
		if c.New != nil {
			data = c.New.Incident
		}
		return []delivery.Event{mk("incident.created", "", data)}, nil
	}
	return nil, nil
}

// typed is the typed value of a decoded item (the zero value for no item),
// or why it did not decode.
func typed[T any](it *asset.Item, value func(*asset.Item) *T) (T, error) {
	var zero T
	if it == nil {
		return zero, nil
	}
	if v := value(it); v != nil {
		return *v, nil
	}
	return zero, it.Err
}

// assigned is asset.assigned's data: the asset and what its assignment was.
type assigned struct {
	asset.Asset
	PreviousAssignment asset.Assignment `json:"previousAssignment"`
}

// positioned is geo_position.updated's data.
type positioned struct {
	AssetID             string             `json:"assetId"`
	AssetName           string             `json:"assetName"`
	ExternalID          *string            `json:"externalId"`
	GeoPosition         asset.GeoPosition  `json:"geoPosition"`
	PreviousGeoPosition *asset.GeoPosition `json:"previousGeoPosition"`
}

// updated is asset.updated's data: the asset and the names of the fields that changed.
type updated struct {
	asset.Asset
	ChangedFields []string `json:"changedFields"`
}

func fieldsChanged(a, b asset.Asset) bool { return len(asset.ChangedFields(a, b)) > 0 }

// convertImage turns the Lambda event's attribute values into the SDK's, so
// the same decoders read stream images and table items.
func convertImage(img map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, error) {
	if img == nil {
		return nil, nil
	}
	out := make(map[string]types.AttributeValue, len(img))
	for k, v := range img {
		av, err := convert(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func convert(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeList:
		var l []types.AttributeValue
		for _, e := range v.List() {
			av, err := convert(e)
			if err != nil {
				return nil, err
			}
			l = append(l, av)
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	case events.DataTypeMap:
		m, err := convertImage(v.Map())
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("unsupported attribute type %v", v.DataType())
}
