// Package asset holds the asset data the integration API writes: the request
// shapes, their validation, and the AssetsTable store.
package asset

import (
	"bytes"
	"encoding/json"
	"regexp"
	"time"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/validate"
)

// Limits on string fields, in characters.
const (
	maxName        = 200
	maxCategory    = 100
	maxStatus      = 50
	maxDescription = 2000
	maxSerial      = 100
	maxExternalID  = 128
	maxTitle       = 200
	maxRefID       = 64
	maxType        = 50
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Nullable is a JSON string field that distinguishes absent, null and a value,
// so that {"userId": null} can clear an assignment while omitting it leaves it.
type Nullable struct {
	Set, Null bool
	Value     string
}

// AcceptsNull marks Nullable as a field that takes null (httpapi.NullAccepter).
func (*Nullable) AcceptsNull() bool { return true }

func (n *Nullable) UnmarshalJSON(b []byte) error {
	n.Set = true
	if bytes.Equal(b, []byte("null")) {
		n.Null = true
		return nil
	}
	if err := json.Unmarshal(b, &n.Value); err != nil {
		return apierror.Invalid(apierror.FieldError{Field: "body", Issue: "must be a string or null"})
	}
	return nil
}

// Ref names the asset a request is about: by UniAsset's id or by the ERP's externalId.
type Ref struct {
	AssetID    *string `json:"assetId"`
	ExternalID *string `json:"externalId"`
}

// Target returns the reference; bodies that embed Ref get it too.
func (r Ref) Target() Ref { return r }

func (r Ref) validate(v *validator) {
	switch {
	case r.AssetID == nil && r.ExternalID == nil:
		v.Add("assetId", "is required (or give externalId instead)")
	case r.AssetID != nil && r.ExternalID != nil:
		v.Add("assetId", "give assetId or externalId, not both")
	case r.AssetID != nil && !idPattern.MatchString(*r.AssetID):
		v.Add("assetId", "must be 1-64 characters of letters, digits, '_' or '-'")
	case r.ExternalID != nil:
		// Looked up as stored: trimmed and normalized like a create's.
		*r.ExternalID = v.text("externalId", *r.ExternalID, maxExternalID, true)
	}
}

// CreateInput is the body of POST /assets/create.
type CreateInput struct {
	Name              string  `json:"name"`
	CategoryName      string  `json:"categoryName"`
	StatusName        string  `json:"statusName"`
	ExternalID        *string `json:"externalId"`
	Description       *string `json:"description"`
	SerialNumber      *string `json:"serialNumber"`
	Type              *string `json:"type"`
	ExpiresAt         *string `json:"expiresAt"`
	WarrantyExpiresAt *string `json:"warrantyExpiresAt"`
}

func (in *CreateInput) ValidateAt(now time.Time) error {
	v := &validator{now: now}
	in.Name = v.text("name", in.Name, maxName, true)
	in.CategoryName = v.text("categoryName", in.CategoryName, maxCategory, true)
	in.StatusName = v.text("statusName", in.StatusName, maxStatus, true)
	in.ExternalID = v.optText("externalId", in.ExternalID, maxExternalID)
	in.Description = v.optText("description", in.Description, maxDescription)
	in.SerialNumber = v.optText("serialNumber", in.SerialNumber, maxSerial)
	in.Type = v.optText("type", in.Type, maxType)
	in.ExpiresAt = v.optTime("expiresAt", in.ExpiresAt, false)
	in.WarrantyExpiresAt = v.optTime("warrantyExpiresAt", in.WarrantyExpiresAt, false)
	return v.Err()
}

// UpdateInput is the body of POST /assets/update: the asset and the fields to change.
type UpdateInput struct {
	Ref
	Name              *string  `json:"name"`
	CategoryName      *string  `json:"categoryName"`
	StatusName        *string  `json:"statusName"`
	Description       Nullable `json:"description"`
	SerialNumber      Nullable `json:"serialNumber"`
	Type              Nullable `json:"type"`
	ExpiresAt         Nullable `json:"expiresAt"`
	WarrantyExpiresAt Nullable `json:"warrantyExpiresAt"`
}

func (in *UpdateInput) ValidateAt(now time.Time) error {
	v := &validator{now: now}
	in.Ref.validate(v)
	in.Name = v.optRequiredText("name", in.Name, maxName)
	in.CategoryName = v.optRequiredText("categoryName", in.CategoryName, maxCategory)
	in.StatusName = v.optRequiredText("statusName", in.StatusName, maxStatus)
	v.nullable("description", &in.Description, maxDescription)
	v.nullable("serialNumber", &in.SerialNumber, maxSerial)
	v.nullable("type", &in.Type, maxType)
	v.nullableTime("expiresAt", &in.ExpiresAt, false)
	v.nullableTime("warrantyExpiresAt", &in.WarrantyExpiresAt, false)
	if in.Name == nil && in.CategoryName == nil && in.StatusName == nil && !in.Description.Set && !in.SerialNumber.Set &&
		!in.Type.Set && !in.ExpiresAt.Set && !in.WarrantyExpiresAt.Set {
		v.Add("body", "give at least one of name, categoryName, statusName, description, serialNumber, type, expiresAt, warrantyExpiresAt")
	}
	return v.Err()
}

// MaintenanceInput is the body of POST /assets/maintenance.
type MaintenanceInput struct {
	Ref
	// MaintenanceID is the caller's own id for the record (its work order
	// number, say); without one, a mnt_… id is made.
	MaintenanceID *string `json:"maintenanceId"`
	Title         string  `json:"title"`
	Description   *string `json:"description"`
	DueAt         *string `json:"dueAt"`
	PerformedAt   *string `json:"performedAt"`
}

func (in *MaintenanceInput) ValidateAt(now time.Time) error {
	v := &validator{now: now}
	in.Ref.validate(v)
	if in.MaintenanceID != nil && !idPattern.MatchString(*in.MaintenanceID) {
		v.Add("maintenanceId", "must be 1-64 characters of letters, digits, '_' or '-'")
	}
	in.Title = v.text("title", in.Title, maxTitle, true)
	in.Description = v.optText("description", in.Description, maxDescription)
	in.DueAt = v.optTime("dueAt", in.DueAt, false)
	in.PerformedAt = v.optTime("performedAt", in.PerformedAt, true)
	return v.Err()
}

// MaintenanceUpdateInput is the body of POST /assets/maintenance/update:
// the record and the fields to change (null clears description, dueAt or
// performedAt). Recording performedAt completes the record (and stops its
// alerts); clearing it schedules it again.
type MaintenanceUpdateInput struct {
	Ref
	MaintenanceID string   `json:"maintenanceId"`
	Title         *string  `json:"title"`
	Description   Nullable `json:"description"`
	DueAt         Nullable `json:"dueAt"`
	PerformedAt   Nullable `json:"performedAt"`
}

func (in *MaintenanceUpdateInput) ValidateAt(now time.Time) error {
	v := &validator{now: now}
	in.Ref.validate(v)
	v.recordID("maintenanceId", in.MaintenanceID, "the id the record was created with")
	in.Title = v.optRequiredText("title", in.Title, maxTitle)
	v.nullable("description", &in.Description, maxDescription)
	v.nullableTime("dueAt", &in.DueAt, false)
	v.nullableTime("performedAt", &in.PerformedAt, true)
	if in.Title == nil && !in.Description.Set && !in.DueAt.Set && !in.PerformedAt.Set {
		v.Add("body", "give at least one of title, description, dueAt, performedAt")
	}
	return v.Err()
}

// DocumentInput is the body of POST /assets/documents: a document to link
// to the asset (a certificate, a licence), with the date it expires.
type DocumentInput struct {
	Ref
	// DocumentID is the caller's own id for the document (its number in the
	// ERP, say); without one, a doc_… id is made.
	DocumentID  *string `json:"documentId"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	ExpiresAt   *string `json:"expiresAt"`
}

func (in *DocumentInput) ValidateAt(now time.Time) error {
	v := &validator{now: now}
	in.Ref.validate(v)
	if in.DocumentID != nil && !idPattern.MatchString(*in.DocumentID) {
		v.Add("documentId", "must be 1-64 characters of letters, digits, '_' or '-'")
	}
	in.Name = v.text("name", in.Name, maxName, true)
	in.Description = v.optText("description", in.Description, maxDescription)
	in.ExpiresAt = v.optTime("expiresAt", in.ExpiresAt, false)
	return v.Err()
}

// DocumentUpdateInput is the body of POST /assets/documents/update: the
// document and the fields to change (null clears description or expiresAt).
type DocumentUpdateInput struct {
	Ref
	DocumentID  string   `json:"documentId"`
	Name        *string  `json:"name"`
	Description Nullable `json:"description"`
	ExpiresAt   Nullable `json:"expiresAt"`
}

func (in *DocumentUpdateInput) ValidateAt(now time.Time) error {
	v := &validator{now: now}
	in.Ref.validate(v)
	v.recordID("documentId", in.DocumentID, "the id the document was created with")
	in.Name = v.optRequiredText("name", in.Name, maxName)
	v.nullable("description", &in.Description, maxDescription)
	v.nullableTime("expiresAt", &in.ExpiresAt, false)
	if in.Name == nil && !in.Description.Set && !in.ExpiresAt.Set {
		v.Add("body", "give at least one of name, description, expiresAt")
	}
	return v.Err()
}

// AssignmentInput is the body of POST /assets/assignment; null clears a field.
type AssignmentInput struct {
	Ref
	UserID       Nullable `json:"userId"`
	DepartmentID Nullable `json:"departmentId"`
}

func (in *AssignmentInput) ValidateAt(now time.Time) error {
	v := &validator{now: now}
	in.Ref.validate(v)
	for _, f := range []struct {
		name string
		val  *Nullable
	}{{"userId", &in.UserID}, {"departmentId", &in.DepartmentID}} {
		if f.val.Set && !f.val.Null && !idPattern.MatchString(f.val.Value) {
			v.Add(f.name, "must be 1-64 characters of letters, digits, '_' or '-', or null to clear")
		}
	}
	if !in.UserID.Set && !in.DepartmentID.Set {
		v.Add("body", "give userId or departmentId (null clears it)")
	}
	return v.Err()
}

// GeoPositionInput is the body of POST /assets/geo-position.
type GeoPositionInput struct {
	Ref
	Latitude   *float64 `json:"latitude"`
	Longitude  *float64 `json:"longitude"`
	Accuracy   *float64 `json:"accuracy"`
	RecordedAt *string  `json:"recordedAt"`
}

// maxClockSkew is how far in the future a device's recordedAt may be.
const maxClockSkew = 5 * time.Minute

func (in *GeoPositionInput) ValidateAt(now time.Time) error {
	v := &validator{now: now}
	for _, f := range []*float64{in.Latitude, in.Longitude, in.Accuracy} {
		if f != nil && *f == 0 {
			*f = 0 // -0 is stored and shown as 0
		}
	}
	in.Ref.validate(v)
	switch {
	case in.Latitude == nil:
		v.Add("latitude", "is required")
	case *in.Latitude < -90 || *in.Latitude > 90:
		v.Add("latitude", "must be between -90 and 90")
	}
	switch {
	case in.Longitude == nil:
		v.Add("longitude", "is required")
	case *in.Longitude < -180 || *in.Longitude > 180:
		v.Add("longitude", "must be between -180 and 180")
	}
	if in.Accuracy != nil && (*in.Accuracy < 0 || *in.Accuracy > 1e7) {
		v.Add("accuracy", "must be a distance in metres between 0 and 10000000")
	}
	in.RecordedAt = v.optTime("recordedAt", in.RecordedAt, true)
	return v.Err()
}

// validator adds the asset fields' own helpers to the shared problem list.
type validator struct {
	validate.Problems
	now time.Time // the request's time, for "not in the future"
}

// text trims s and checks it against the rules for its kind of field.
func (v *validator) text(field, s string, max int, required bool) string {
	return v.Text(field, s, kindOf(field), max, required)
}

// kindOf says which characters a field may hold: externalId is matched by
// other systems, descriptions are free text, the rest are one-line labels.
func kindOf(field string) validate.Kind {
	switch field {
	case "externalId":
		return validate.Identifier
	case "description":
		return validate.Multiline
	default:
		return validate.Line
	}
}

func (v *validator) optText(field string, s *string, max int) *string {
	if s == nil {
		return nil
	}
	t := v.text(field, *s, max, false)
	if t == "" {
		return nil
	}
	return &t
}

func (v *validator) optRequiredText(field string, s *string, max int) *string {
	if s == nil {
		return nil
	}
	t := v.text(field, *s, max, true)
	return &t
}

// recordID checks the id of a record to change: present, and of the shape
// ids have.
func (v *validator) recordID(field, id, what string) {
	switch {
	case id == "":
		v.Add(field, "is required: "+what)
	case !idPattern.MatchString(id):
		v.Add(field, "must be 1-64 characters of letters, digits, '_' or '-'")
	}
}

func (v *validator) nullable(field string, n *Nullable, max int) {
	if !n.Set || n.Null {
		return
	}
	n.Value = v.text(field, n.Value, max, false)
	if n.Value == "" {
		n.Null = true // an empty string clears the field, like null
	}
}

// nullableTime is nullable for a date field: a value is normalized as optTime
// does (notFuture as there); null (or an empty string) clears it.
func (v *validator) nullableTime(field string, n *Nullable, notFuture bool) {
	if !n.Set || n.Null {
		return
	}
	if n.Value == "" {
		n.Null = true
		return
	}
	if t := v.optTime(field, &n.Value, notFuture); t != nil {
		n.Value = *t
	}
}

// optTime accepts an RFC 3339 time or a plain date (midnight UTC) and normalizes it.
// notFuture rejects times more than maxClockSkew ahead: a device clock that far off is a bug.
func (v *validator) optTime(field string, s *string, notFuture bool) *string {
	if s == nil {
		return nil
	}
	t, err := isotime.Parse(*s)
	if err != nil {
		d, derr := time.Parse(time.DateOnly, *s)
		if derr != nil {
			v.Add(field, "must be an RFC 3339 time (2026-03-08T09:15:00Z) or a date (2026-03-08)")
			return nil
		}
		t = d
	}
	if t.Year() < 1970 || t.Year() > 9999 {
		v.Add(field, "must be between 1970 and 9999")
		return nil
	}
	if notFuture && t.After(v.now.Add(maxClockSkew)) {
		v.Add(field, "must not be in the future")
		return nil
	}
	out := isotime.Format(t)
	return &out
}
