package httpapi

import (
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
		err := DecodeStrict([]byte(c.body), &s)
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
	r = httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("a", MaxBody)))
	if _, err := ReadBody(r); err != nil {
		t.Fatalf("body at the limit: %v", err)
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
