package asset

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/keyschema"
)

// Item is an AssetsTable item decoded once, for everything that reacts to
// it (events, alerts): the dates alerts watch, read leniently as DatesOf
// does, and the typed value of its kind. A typed value that does not
// decode is nil, with Err saying why; the dates are read regardless.
type Item struct {
	Dates       Dates
	Asset       *Asset         // an asset
	Maintenance *Maintenance   // a maintenance record
	Document    *Document      // a linked document
	Incident    map[string]any // an incident, as incident.created carries it
	Err         error
}

// Decode decodes an item (a table read or a stream image); nil for none.
func Decode(raw map[string]types.AttributeValue) *Item {
	if raw == nil {
		return nil
	}
	it := &Item{Dates: DatesOf(raw)}
	switch sk := it.Dates.SK; {
	case sk == keyschema.AssetSK:
		a, err := FromItem(raw)
		it.Asset, it.Err = ptrUnless(a, err), err
	case strings.HasPrefix(sk, keyschema.MaintenancePrefix):
		m, err := MaintenanceFromItem(raw)
		it.Maintenance, it.Err = ptrUnless(m, err), err
	case strings.HasPrefix(sk, keyschema.DocumentPrefix):
		d, err := DocumentFromItem(raw)
		it.Document, it.Err = ptrUnless(d, err), err
	case strings.HasPrefix(sk, keyschema.IncidentPrefix):
		_, assetID, _ := keyschema.ParseAssetPK(it.Dates.PK)
		it.Incident = incidentFromItem(assetID, strings.TrimPrefix(sk, keyschema.IncidentPrefix), raw)
	}
	return it
}

// WatchedDates are the item's dates alerts watch (none for no item).
func (it *Item) WatchedDates() Dates {
	if it == nil {
		return Dates{}
	}
	return it.Dates
}

func ptrUnless[T any](v T, err error) *T {
	if err != nil {
		return nil
	}
	return &v
}
