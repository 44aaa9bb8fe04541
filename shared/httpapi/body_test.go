package httpapi

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/uniasset/integrations/shared/apierror"
)

type sample struct {
	Name  string   `json:"name"`
	Count *float64 `json:"count"`
}

func TestDecodeStrict(t *testing.T) {
	cases := []struct {
		body  string
		field string // "" means success
	}{
		{`{"name":"a","count":1}`, ""},
		{`  {"name":"a"}  `, ""},
		{`{"name":"a","extra":1}`, "extra"},
		{`{"name":1}`, "name"},
		{`{"count":"1"}`, "count"},
		{`[1]`, "body"},
		{`null`, "body"},
		{``, "body"},
		{`{"name":"a"`, "body"},
		{`{"name":"a"}{}`, "body"},
		{`{"name":"a"} x`, "body"},
	}
	for _, c := range cases {
		var s sample
		err := DecodeValid([]byte(c.body), &s, nil)
		if c.field == "" {
			if err != nil {
				t.Errorf("%q: unexpected error %v", c.body, err)
			}
			continue
		}
		e, ok := apierror.From(err)
		if !ok || e.Code != apierror.Validation || len(e.Fields) != 1 || e.Fields[0].Field != c.field {
			t.Errorf("%q: got %+v, want VALIDATION_ERROR on %q", c.body, e, c.field)
		}
	}
}

func TestReadBody(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("a", MaxBody+1)))
	if _, err := ReadBody(r); err == nil || err.(*apierror.Error).Code != apierror.PayloadTooLarge {
		t.Fatalf("oversized body: %v", err)
	}
	r = httptest.NewRequest("POST", "/", strings.NewReader(`"`+strings.Repeat("a", MaxBody-2)+`"`))
	if _, err := ReadBody(r); err != nil {
		t.Fatalf("body at the limit: %v", err)
	}
	for _, body := range []string{"garbage", "{", `{"a":1}x`, "\xff"} {
		r = httptest.NewRequest("POST", "/", strings.NewReader(body))
		if e, ok := apierror.From(func() error { _, err := ReadBody(r); return err }()); !ok || e.Code != apierror.Validation {
			t.Fatalf("%q: %v, want VALIDATION_ERROR", body, e)
		}
	}
	for _, body := range []string{"", " \n", "{}"} {
		if _, err := ReadBody(httptest.NewRequest("POST", "/", strings.NewReader(body))); err != nil {
			t.Fatalf("%q: %v", body, err)
		}
	}
	r = httptest.NewRequest("POST", "/", strings.NewReader("{}"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := ReadBody(r); err == nil || err.(*apierror.Error).Code != apierror.UnsupportedMediaType {
		t.Fatalf("form body: %v", err)
	}
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	if _, err := ReadBody(r); err != nil {
		t.Fatalf("json with charset: %v", err)
	}
}

func TestEveryCodeMapsToAClientOrServerStatus(t *testing.T) {
	for _, c := range []apierror.Code{apierror.Unauthorized, apierror.Forbidden, apierror.EnterpriseRequired, apierror.PlanUpgradeRequired,
		apierror.InsufficientPermissions, apierror.Validation, apierror.PayloadTooLarge, apierror.UnsupportedMediaType, apierror.NotFound,
		apierror.MethodNotAllowed, apierror.Conflict, apierror.IdempotencyConflict, apierror.IdempotencyInProgress} {
		if s := c.Status(); s < 400 || s > 499 {
			t.Errorf("%s maps to %d, want a 4xx", c, s)
		}
	}
	if apierror.Internal.Status() != 500 || apierror.Throttled.Status() != 503 {
		t.Error("INTERNAL_ERROR / THROTTLED mapping changed")
	}
}

type nested struct {
	Name    string            `json:"name"`
	Events  []string          `json:"events"`
	Headers map[string]string `json:"headers"`
	Count   *float64          `json:"count"`
}

// problems decodes body and returns "field: issue" for each problem, in order.
func problems(t *testing.T, body string, check func(*nested) error) []string {
	t.Helper()
	var n nested
	var err error
	if check == nil {
		err = DecodeValid([]byte(body), &n, nil)
	} else {
		err = DecodeValid([]byte(body), &n, func() error { return check(&n) })
	}
	if err == nil {
		return nil
	}
	e, ok := apierror.From(err)
	if !ok || e.Code != apierror.Validation {
		t.Fatalf("%q: got %v, want a VALIDATION_ERROR", body, err)
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field+": "+f.Issue)
	}
	return out
}

func TestDecodeStrictRefusesAmbiguousBodies(t *testing.T) {
	cases := map[string]string{
		`{"name":"x","name":"y"}`:       "name: is given more than once",
		`{"headers":{"A":"1","A":"2"}}`: "headers.A: is given more than once",
		`{"name":"x","\u006eame":"y"}`:  "name: is given more than once", // an escaped spelling is the same name
		`{"NAME":"x"}`:                  "NAME: unknown field (field names are case-sensitive)",
		`{"name":"x","Name":"y"}`:       "Name: unknown field (field names are case-sensitive)",
		"{\"name\":\"\xff\"}":           "body: must be valid UTF-8",
		"{\"na\xc3\":\"x\"}":            "body: must be valid UTF-8",
		`{"name":"\udc00"}`:             "body: malformed JSON", // a lone surrogate escape is not text
		`{"count":1e999}`:               "count: must be a number in range",
		`{"events":["a",1]}`:            "events[1]: must be a string, not a number",
		`{"headers":{"A":true}}`:        "headers.A: must be a string, not a boolean",
	}
	for body, want := range cases {
		got := problems(t, body, nil)
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s: got %q, want [%q]", body, got, want)
		}
	}
}

func TestDecodeStrictListsEveryProblem(t *testing.T) {
	required := func(n *nested) error {
		var f []apierror.FieldError
		if n.Name == "" {
			f = append(f, apierror.FieldError{Field: "name", Issue: "is required"})
		}
		if n.Events == nil {
			f = append(f, apierror.FieldError{Field: "events", Issue: "is required"})
		}
		if len(f) > 0 {
			return apierror.Invalid(f...)
		}
		return nil
	}
	got := problems(t, `{"extra":1,"count":"2","other":[],"name":7}`, required)
	want := []string{
		"extra: unknown field",
		"count: must be a number, not a string",
		"other: unknown field",
		"name: must be a string, not a number",
		"events: is required", // name's own problem is not repeated as "is required"
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := problems(t, `{"name":"ok","events":[]}`, required); got != nil {
		t.Errorf("a valid body: %q", got)
	}
}

func TestDecodeStrictBoundsTheProblemsListed(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 5000 {
		fmt.Fprintf(&b, `"unknown%d":1,`, i)
	}
	b.WriteString(`"name":"x"}`)
	got := problems(t, b.String(), nil)
	if len(got) != MaxProblems+1 || got[MaxProblems] != fmt.Sprintf("body: has more problems; the first %d are listed", MaxProblems) {
		t.Fatalf("%d problems listed, the last %q", len(got), got[len(got)-1])
	}
}

type nullable struct{ set bool }

func (*nullable) AcceptsNull() bool { return true }
func (n *nullable) UnmarshalJSON([]byte) error {
	n.set = true
	return nil
}

type embedded struct {
	ID *string `json:"id"`
}

type withNulls struct {
	embedded
	Name  *string  `json:"name"`
	Clear nullable `json:"clear"`
}

// Null reaches only fields that give it a meaning; elsewhere it is refused
// by name (it would otherwise read as "not given"), embedded fields too.
func TestNullOnlyWhereItMeansSomething(t *testing.T) {
	var in withNulls
	if err := DecodeValid([]byte(`{"clear":null}`), &in, nil); err != nil || !in.Clear.set {
		t.Fatalf("null for a field that takes it: %v (set %v)", err, in.Clear.set)
	}
	for _, body := range []string{`{"name":null}`, `{"id":null}`} {
		err := DecodeValid([]byte(body), &withNulls{}, nil)
		e, ok := apierror.From(err)
		if !ok || len(e.Fields) != 1 || !strings.Contains(e.Fields[0].Issue, "must not be null") {
			t.Errorf("%s: %v", body, err)
		}
	}
	e, ok := apierror.From(DecodeValid([]byte(`{"other":null}`), &withNulls{}, nil))
	if !ok || len(e.Fields) != 1 || e.Fields[0].Issue != "unknown field" {
		t.Errorf("an unknown field given null: %+v", e)
	}
}

// A null nested in an object or array is refused like one at the top level:
// it would otherwise read as "not given".
func TestNestedNullIsRefused(t *testing.T) {
	type inner struct {
		A *int `json:"a"`
		B *int `json:"b"`
	}
	type outer struct {
		In      *inner            `json:"in"`
		List    []inner           `json:"list"`
		Tags    []string          `json:"tags"`
		Headers map[string]string `json:"headers"`
	}
	for body, field := range map[string]string{
		`{"in":{"a":null,"b":1}}`:       "in.a",
		`{"list":[{"a":1},{"b":null}]}`: "list[1].b",
		`{"tags":["x",null]}`:           "tags[1]",
		`{"list":[null]}`:               "list[0]",
	} {
		var o outer
		e, ok := apierror.From(DecodeValid([]byte(body), &o, func() error { return nil }))
		if !ok || len(e.Fields) != 1 || e.Fields[0].Field != field {
			t.Errorf("%s: %+v, want an error on %s", body, e, field)
		}
	}
	var o outer
	if err := DecodeValid([]byte(`{"in":{"a":1},"list":[{"b":2}],"tags":["x"]}`), &o, func() error { return nil }); err != nil || *o.In.A != 1 || *o.List[0].B != 2 {
		t.Fatalf("no nulls: %v %+v", err, o)
	}
}

// ReadValid says what is wrong with a duplicate member or invalid UTF-8;
// the validity check on the raw body leaves those to it.
func TestReadValidSaysWhatIsWrong(t *testing.T) {
	var in struct {
		Name string `json:"name"`
	}
	for body, want := range map[string]string{`{"name":"x","name":"y"}`: "name", "{\"name\":\"\xff\"}": "UTF-8"} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		e, ok := apierror.From(ReadValid(r, &in, func() error { return nil }))
		if !ok || len(e.Fields) != 1 || (e.Fields[0].Field != want && !strings.Contains(e.Fields[0].Issue, want)) {
			t.Errorf("%q: %+v, want an error naming %s", body, e, want)
		}
	}
}
