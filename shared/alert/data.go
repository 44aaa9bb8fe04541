package alert

import (
	"errors"
	"fmt"
	"time"

	"github.com/uniasset/integrations/shared/asset"
)

// Data is an alert's data: which asset, the date and the days left until it
// (negative once passed), and the item the date belongs to — the maintenance
// record, the linked document, or the asset itself (document assets and
// warranties).
type Data struct {
	AssetID       string             `json:"assetId"`
	AssetName     string             `json:"assetName"`
	ExternalID    *string            `json:"externalId"`
	DueDate       string             `json:"dueDate"`
	DaysRemaining int                `json:"daysRemaining"`
	Maintenance   *asset.Maintenance `json:"maintenance,omitempty"`
	Document      *asset.Document    `json:"document,omitempty"`
	Asset         *asset.Asset       `json:"asset,omitempty"`
	// about is the asset, sent or not, for webhook scopes.
	about *asset.Asset
}

// NewData builds the data of an alert about entry e from its item and the
// item of its asset (the same item for assets' own dates), as of now.
func NewData(e Entry, item, assetItem *asset.Item, now time.Time) (Data, error) {
	if assetItem == nil || assetItem.Asset == nil {
		return Data{}, fmt.Errorf("asset of an alert: %w", errOf(assetItem))
	}
	a := *assetItem.Asset
	d := Data{AssetID: a.AssetID, AssetName: a.AssetName, ExternalID: a.ExternalID, DueDate: e.DueAt, DaysRemaining: DaysRemaining(e.DueAt, now), about: &a}
	switch e.Kind {
	case MaintenanceKind:
		if item == nil || item.Maintenance == nil {
			return Data{}, errOf(item)
		}
		d.Maintenance = item.Maintenance
	case DocumentKind:
		if item == nil || item.Document == nil {
			return Data{}, errOf(item)
		}
		d.Document = item.Document
	default:
		d.Asset = &a
	}
	return d, nil
}

// errOf is why an item has no typed value of the kind asked for.
func errOf(it *asset.Item) error {
	if it == nil || it.Err == nil {
		return errors.New("the item is not of the kind its entry says")
	}
	return it.Err
}
