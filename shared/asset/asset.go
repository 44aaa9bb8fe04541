package asset

import (
	"reflect"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Asset is the JSON shape of an asset in responses (and, later, webhook data).
type Asset struct {
	AssetID      string  `json:"assetId"`
	ExternalID   *string `json:"externalId"`
	AssetName    string  `json:"assetName"`
	CategoryName string  `json:"categoryName"`
	StatusName   string  `json:"statusName"`
	Description  *string `json:"description"`
	SerialNumber *string `json:"serialNumber"`
	// Type is the asset's kind as the customer names it; "document" (a
	// licence, certificate or policy kept as an asset) makes ExpiresAt count.
	Type              *string      `json:"type"`
	ExpiresAt         *string      `json:"expiresAt"`
	WarrantyExpiresAt *string      `json:"warrantyExpiresAt"`
	Assignment        Assignment   `json:"assignment"`
	GeoPosition       *GeoPosition `json:"geoPosition"`
	Version           int64        `json:"version"`
	CreatedAt         string       `json:"createdAt"`
	UpdatedAt         string       `json:"updatedAt"`
}

// DocumentType is the Type that makes an asset a document asset: its
// ExpiresAt raises document_asset.expiring and document_asset.expired.
const DocumentType = "document"

// IsDocument reports whether the asset is a document asset ("Document"
// counts: the type is the customer's own word, and a capital letter must
// not silently cost them its alerts).
func (a Asset) IsDocument() bool { return a.Type != nil && IsDocumentType(*a.Type) }

// IsDocumentType reports whether an asset type names a document asset.
func IsDocumentType(t string) bool { return strings.EqualFold(t, DocumentType) }

// Assignment is who or which department holds the asset.
type Assignment struct {
	UserID       *string `json:"userId" dynamodbav:"-"`
	DepartmentID *string `json:"departmentId" dynamodbav:"-"`
	AssignedAt   *string `json:"assignedAt" dynamodbav:"-"`
}

// GeoPosition is the last reported position.
type GeoPosition struct {
	Latitude   float64  `json:"latitude" dynamodbav:"latitude"`
	Longitude  float64  `json:"longitude" dynamodbav:"longitude"`
	Accuracy   *float64 `json:"accuracy" dynamodbav:"accuracy,omitempty"`
	RecordedAt string   `json:"recordedAt" dynamodbav:"recordedAt"`
}

// Maintenance is a maintenance record of an asset.
type Maintenance struct {
	MaintenanceID string  `json:"maintenanceId" dynamodbav:"maintenanceId"`
	AssetID       string  `json:"assetId" dynamodbav:"assetId"`
	Title         string  `json:"title" dynamodbav:"title"`
	Description   *string `json:"description" dynamodbav:"description,omitempty"`
	DueAt         *string `json:"dueAt" dynamodbav:"dueAt,omitempty"`
	PerformedAt   *string `json:"performedAt" dynamodbav:"performedAt,omitempty"`
	Status        string  `json:"status" dynamodbav:"status"`
	CreatedAt     string  `json:"createdAt" dynamodbav:"createdAt"`
}

// Document is a document linked to an asset (a certificate, a licence, an
// inspection report): DOC#<id> in the asset's partition. The main app writes
// them too, in this shape.
type Document struct {
	DocumentID  string  `json:"documentId" dynamodbav:"documentId"`
	AssetID     string  `json:"assetId" dynamodbav:"assetId"`
	Name        string  `json:"name" dynamodbav:"name"`
	Description *string `json:"description" dynamodbav:"description,omitempty"`
	ExpiresAt   *string `json:"expiresAt" dynamodbav:"expiresAt,omitempty"`
	CreatedAt   string  `json:"createdAt" dynamodbav:"createdAt"`
	UpdatedAt   string  `json:"updatedAt" dynamodbav:"updatedAt"`
}

// DocumentFromItem decodes a linked document's item.
func DocumentFromItem(av map[string]types.AttributeValue) (Document, error) {
	var d Document
	err := attributevalue.UnmarshalMap(av, &d)
	return d, err
}

// item is the AssetsTable layout of an asset: flat attributes, so an assignment
// can be set or removed field by field in one UpdateItem.
type item struct {
	PK                   string       `dynamodbav:"PK"`
	SK                   string       `dynamodbav:"SK"`
	Entity               string       `dynamodbav:"entity"`
	TenantID             string       `dynamodbav:"tenantId"`
	AssetID              string       `dynamodbav:"assetId"`
	ExternalID           *string      `dynamodbav:"externalId,omitempty"`
	AssetName            string       `dynamodbav:"assetName"`
	CategoryName         string       `dynamodbav:"categoryName"`
	StatusName           string       `dynamodbav:"statusName"`
	Description          *string      `dynamodbav:"description,omitempty"`
	SerialNumber         *string      `dynamodbav:"serialNumber,omitempty"`
	Type                 *string      `dynamodbav:"type,omitempty"`
	ExpiresAt            *string      `dynamodbav:"expiresAt,omitempty"`
	WarrantyExpiresAt    *string      `dynamodbav:"warrantyExpiresAt,omitempty"`
	AssignedUserID       *string      `dynamodbav:"assignedUserId,omitempty"`
	AssignedDepartmentID *string      `dynamodbav:"assignedDepartmentId,omitempty"`
	AssignedAt           *string      `dynamodbav:"assignedAt,omitempty"`
	GeoPosition          *GeoPosition `dynamodbav:"geoPosition,omitempty"`
	Version              int64        `dynamodbav:"version"`
	CreatedAt            string       `dynamodbav:"createdAt"`
	CreatedBy            string       `dynamodbav:"createdBy"`
	UpdatedAt            string       `dynamodbav:"updatedAt"`
	UpdatedBy            string       `dynamodbav:"updatedBy"`
}

func (it item) asset() Asset {
	return Asset{
		AssetID: it.AssetID, ExternalID: it.ExternalID, AssetName: it.AssetName,
		CategoryName: it.CategoryName, StatusName: it.StatusName,
		Description: it.Description, SerialNumber: it.SerialNumber,
		Type: it.Type, ExpiresAt: it.ExpiresAt, WarrantyExpiresAt: it.WarrantyExpiresAt,
		Assignment:  Assignment{UserID: it.AssignedUserID, DepartmentID: it.AssignedDepartmentID, AssignedAt: it.AssignedAt},
		GeoPosition: it.GeoPosition, Version: it.Version, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
	}
}

// FromItem decodes an AssetsTable asset item (a table read or a stream image).
func FromItem(av map[string]types.AttributeValue) (Asset, error) {
	var it item
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return Asset{}, err
	}
	return it.asset(), nil
}

// MaintenanceFromItem decodes a maintenance item.
func MaintenanceFromItem(av map[string]types.AttributeValue) (Maintenance, error) {
	var m Maintenance
	err := attributevalue.UnmarshalMap(av, &m)
	return m, err
}

// ChangedFields names the fields of an asset that differ between a and b,
// as asset.updated's changedFields lists them.
func ChangedFields(a, b Asset) []string {
	var out []string
	for _, f := range []struct {
		name string
		x, y any
	}{
		{"assetName", a.AssetName, b.AssetName}, {"categoryName", a.CategoryName, b.CategoryName},
		{"statusName", a.StatusName, b.StatusName}, {"description", a.Description, b.Description},
		{"serialNumber", a.SerialNumber, b.SerialNumber}, {"externalId", a.ExternalID, b.ExternalID},
		{"type", a.Type, b.Type}, {"expiresAt", a.ExpiresAt, b.ExpiresAt}, {"warrantyExpiresAt", a.WarrantyExpiresAt, b.WarrantyExpiresAt},
	} {
		if !reflect.DeepEqual(f.x, f.y) {
			out = append(out, f.name)
		}
	}
	return out
}
