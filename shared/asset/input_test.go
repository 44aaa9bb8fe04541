package asset

import (
	"strings"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/httpapi"
)

// testNow is the request time every case is validated at.
var testNow = time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC)

// fields decodes body into dst, validates, and returns the names of the fields reported.
func fields[T interface{ ValidateAt(time.Time) error }](t *testing.T, body string, dst T) []string {
	t.Helper()
	err := httpapi.DecodeValid([]byte(body), dst, func() error { return dst.ValidateAt(testNow) })
	if err == nil {
		return nil
	}
	e, ok := apierror.From(err)
	if !ok || e.Code != apierror.Validation {
		t.Fatalf("%s: not a validation error: %v", body, err)
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestCreateInput(t *testing.T) {
	var in CreateInput
	if f := fields(t, `{"name":"  Forklift  ","categoryName":"V","statusName":"A","externalId":"  "}`, &in); f != nil {
		t.Fatalf("valid create rejected: %v", f)
	}
	if in.Name != "Forklift" || in.ExternalID != nil {
		t.Fatalf("not normalized: %+v", in)
	}
	got := fields(t, `{"name":"","categoryName":"`+strings.Repeat("c", 101)+`","statusName":"ok\u0007"}`, &CreateInput{})
	if strings.Join(got, ",") != "name,categoryName,statusName" {
		t.Fatalf("want every bad field reported, got %v", got)
	}
}

func TestUpdateInputNullClears(t *testing.T) {
	var in UpdateInput
	if f := fields(t, `{"assetId":"asset_1","description":null}`, &in); f != nil {
		t.Fatalf("rejected: %v", f)
	}
	if !in.Description.Set || !in.Description.Null || in.SerialNumber.Set {
		t.Fatalf("null not distinguished from absent: %+v", in)
	}
	if f := fields(t, `{"assetId":"asset_1"}`, &UpdateInput{}); len(f) != 1 || f[0] != "body" {
		t.Fatalf("an update with nothing to change: %v", f)
	}
	// A field null cannot clear is refused by name, not ignored.
	if f := fields(t, `{"assetId":"asset_1","name":null}`, &UpdateInput{}); len(f) != 1 || f[0] != "name" {
		t.Fatalf("name cannot be cleared: %v", f)
	}
	if f := fields(t, `{"assetId":"asset_1","statusName":null,"type":"x"}`, &UpdateInput{}); len(f) != 1 || f[0] != "statusName" {
		t.Fatalf("statusName cannot be cleared: %v", f)
	}
	if f := fields(t, `{"assetId":null,"externalId":"e","type":"x"}`, &UpdateInput{}); len(f) != 1 || f[0] != "assetId" {
		t.Fatalf("a null reference: %v", f)
	}
	if f := fields(t, `{"assetId":"a","externalId":"b","name":"n"}`, &UpdateInput{}); len(f) != 1 || f[0] != "assetId" {
		t.Fatalf("both references: %v", f)
	}
}

func TestGeoPositionInput(t *testing.T) {
	ok := []string{
		`{"assetId":"a","latitude":90,"longitude":-180}`,
		`{"assetId":"a","latitude":-90,"longitude":180,"accuracy":0}`,
		`{"assetId":"a","latitude":0,"longitude":0,"recordedAt":"2026-03-08T09:15:00+02:00"}`,
	}
	for _, b := range ok {
		var in GeoPositionInput
		if f := fields(t, b, &in); f != nil {
			t.Errorf("%s rejected: %v", b, f)
		}
	}
	var in GeoPositionInput
	fields(t, `{"assetId":"a","latitude":0,"longitude":0,"recordedAt":"2026-03-08T09:15:00+02:00"}`, &in)
	if *in.RecordedAt != "2026-03-08T07:15:00.000Z" {
		t.Errorf("recordedAt not normalized to UTC: %s", *in.RecordedAt)
	}
	bad := map[string]string{
		`{"assetId":"a","latitude":90.0001,"longitude":0}`:                    "latitude",
		`{"assetId":"a","latitude":0,"longitude":-180.5}`:                     "longitude",
		`{"assetId":"a","longitude":0}`:                                       "latitude",
		`{"assetId":"a","latitude":0,"longitude":0,"accuracy":-2}`:            "accuracy",
		`{"assetId":"a","latitude":0,"longitude":0,"recordedAt":"yesterday"}`: "recordedAt",
		`{"latitude":0,"longitude":0}`:                                        "assetId",
	}
	for b, field := range bad {
		if f := fields(t, b, &GeoPositionInput{}); len(f) != 1 || f[0] != field {
			t.Errorf("%s: got %v, want [%s]", b, f, field)
		}
	}
}

func TestAssignmentInput(t *testing.T) {
	var in AssignmentInput
	if f := fields(t, `{"assetId":"a","userId":null,"departmentId":"d1"}`, &in); f != nil {
		t.Fatalf("rejected: %v", f)
	}
	if !in.UserID.Null || in.DepartmentID.Value != "d1" {
		t.Fatalf("parsed %+v", in)
	}
	if f := fields(t, `{"assetId":"a"}`, &AssignmentInput{}); len(f) != 1 {
		t.Fatalf("empty assignment accepted: %v", f)
	}
	if f := fields(t, `{"assetId":"a","userId":"has space"}`, &AssignmentInput{}); len(f) != 1 || f[0] != "userId" {
		t.Fatalf("bad user id: %v", f)
	}
}

// Identifiers other systems match on refuse anything invisible or reordering;
// labels keep what emoji and scripts need; descriptions keep line breaks.
func TestClientChosenTextRefusesControlAndFormatCharacters(t *testing.T) {
	base := `"name":"Pump","categoryName":"V","statusName":"A"`
	for _, c := range []struct {
		extra string
		want  string
	}{
		{`"externalId":"ERP\u202e1"`, "externalId"},     // RIGHT-TO-LEFT OVERRIDE
		{`"externalId":"ERP\u200b1"`, "externalId"},     // ZERO WIDTH SPACE
		{`"externalId":"ERP\u200d1"`, "externalId"},     // ZERO WIDTH JOINER: fine in a name, not in an id
		{`"externalId":"ERP\u00a01"`, "externalId"},     // NO-BREAK SPACE
		{`"externalId":"ERP\n1"`, "externalId"},         // was allowed before
		{`"externalId":"ERP\u00851"`, "externalId"},     // NEL, a C1 control
		{`"serialNumber":"SN\u2066X"`, "serialNumber"},  // LEFT-TO-RIGHT ISOLATE
		{`"description":"one\u2028two"`, "description"}, // LINE SEPARATOR
		{`"externalId":"ERP-1 / A"`, ""},
		{`"description":"line one\nline two\tend"`, ""},
		{`"name":"Pump 👩\u200d🔧"`, ""},
	} {
		body := "{" + base + "," + c.extra + "}"
		if strings.HasPrefix(c.extra, `"name"`) {
			body = `{"categoryName":"V","statusName":"A",` + c.extra + "}"
		}
		got := fields(t, body, &CreateInput{})
		if c.want == "" && got != nil || c.want != "" && (len(got) != 1 || got[0] != c.want) {
			t.Errorf("%s: reported %v, want %q", c.extra, got, c.want)
		}
	}
}

// "Not in the future" is judged against the request's time, with 5 minutes
// for a device's clock to run ahead.
func TestNotInTheFutureUsesTheRequestTime(t *testing.T) {
	at := func(d time.Duration) string { return testNow.Add(d).Format(time.RFC3339) }
	for _, c := range []struct {
		recordedAt string
		ok         bool
	}{
		{at(-time.Hour), true},
		{at(4 * time.Minute), true},
		{at(6 * time.Minute), false},
	} {
		got := fields(t, `{"assetId":"a","latitude":1,"longitude":2,"recordedAt":"`+c.recordedAt+`"}`, &GeoPositionInput{})
		if (got == nil) != c.ok {
			t.Errorf("recordedAt %s: problems %v, want ok=%v", c.recordedAt, got, c.ok)
		}
	}
}

// The dates alerts need: a date or an RFC 3339 time, normalized to UTC
// milliseconds, in the past or the future; on update null (or "") removes one.
func TestExpiryDates(t *testing.T) {
	var in CreateInput
	body := `{"name":"Licence","categoryName":"Docs","statusName":"ACTIVE","type":"document","expiresAt":"2027-01-31","warrantyExpiresAt":"2025-06-01T10:00:00+02:00"}`
	if f := fields(t, body, &in); f != nil {
		t.Fatalf("valid dates rejected: %v", f)
	}
	if *in.ExpiresAt != "2027-01-31T00:00:00.000Z" || *in.WarrantyExpiresAt != "2025-06-01T08:00:00.000Z" || *in.Type != DocumentType {
		t.Fatalf("not normalized: %s %s %s", *in.ExpiresAt, *in.WarrantyExpiresAt, *in.Type)
	}
	for body, want := range map[string]string{
		`{"name":"n","categoryName":"c","statusName":"s","expiresAt":"2027-02-30"}`:                 "expiresAt",
		`{"name":"n","categoryName":"c","statusName":"s","warrantyExpiresAt":"tomorrow"}`:           "warrantyExpiresAt",
		`{"name":"n","categoryName":"c","statusName":"s","warrantyExpiresAt":"10000-01-01"}`:        "warrantyExpiresAt",
		`{"name":"n","categoryName":"c","statusName":"s","expiresAt":20270131}`:                     "expiresAt",
		`{"name":"n","categoryName":"c","statusName":"s","type":"doc\u0000ument"}`:                  "type",
		`{"name":"n","categoryName":"c","statusName":"s","type":"` + strings.Repeat("t", 51) + `"}`: "type",
	} {
		var in CreateInput
		if f := fields(t, body, &in); len(f) != 1 || f[0] != want {
			t.Errorf("%s: fields %v, want %s", body, f, want)
		}
	}
	var up UpdateInput
	if f := fields(t, `{"assetId":"a1","expiresAt":null,"warrantyExpiresAt":"","type":"document"}`, &up); f != nil {
		t.Fatalf("clearing rejected: %v", f)
	}
	if !up.ExpiresAt.Null || !up.WarrantyExpiresAt.Null || up.Type.Value != "document" {
		t.Fatalf("%+v", up)
	}
	up = UpdateInput{}
	if f := fields(t, `{"assetId":"a1","warrantyExpiresAt":"2027-01-31"}`, &up); f != nil || up.WarrantyExpiresAt.Value != "2027-01-31T00:00:00.000Z" {
		t.Fatalf("%v %+v", f, up.WarrantyExpiresAt)
	}
	up = UpdateInput{}
	if f := fields(t, `{"assetId":"a1","warrantyExpiresAt":"31/01/2027"}`, &up); len(f) != 1 || f[0] != "warrantyExpiresAt" {
		t.Fatalf("%v", f)
	}
}
