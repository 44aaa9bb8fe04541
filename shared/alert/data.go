package alert

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
}

// NewData builds the data of an alert about entry e from its item and the
// item of its asset (the same item for assets' own dates), as of now.
func NewData(e Entry, item, assetItem map[string]types.AttributeValue, now time.Time) (Data, error) {
	a, err := asset.FromItem(assetItem)
	if err != nil {
		return Data{}, fmt.Errorf("asset of an alert: %w", err)
	}
	d := Data{AssetID: a.AssetID, AssetName: a.AssetName, ExternalID: a.ExternalID, DueDate: e.DueAt, DaysRemaining: DaysRemaining(e.DueAt, now)}
	switch e.Kind {
	case MaintenanceKind:
		m, err := asset.MaintenanceFromItem(item)
		if err != nil {
			return Data{}, err
		}
		d.Maintenance = &m
	case DocumentKind:
		doc, err := asset.DocumentFromItem(item)
		if err != nil {
			return Data{}, err
		}
		d.Document = &doc
	default:
		d.Asset = &a
	}
	return d, nil
}
