package apierror

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestEveryCodeHasItsStatus(t *testing.T) {
	for code, want := range map[Code]int{
		Unauthorized: 401, Forbidden: 403, EnterpriseRequired: 403, PlanUpgradeRequired: 403, InsufficientPermissions: 403,
		Validation: 400, PayloadTooLarge: 413, UnsupportedMediaType: 415, NotFound: 404, MethodNotAllowed: 405,
		Conflict: 409, IdempotencyConflict: 409, IdempotencyInProgress: 409, Throttled: 503, RateLimited: 429, Internal: 500,
		Code("SOMETHING_NEW"): 500,
	} {
		if got := code.Status(); got != want {
			t.Errorf("%s: %d, want %d", code, got, want)
		}
	}
}

// From finds an Error however deeply it is wrapped; anything else becomes an
// INTERNAL_ERROR that says nothing of the cause.
func TestFrom(t *testing.T) {
	wrapped := fmt.Errorf("store: %w", New(NotFound, "no webhook %q", "wh_1"))
	e, ok := From(wrapped)
	if !ok || e.Code != NotFound || e.Message != `no webhook "wh_1"` {
		t.Fatalf("%+v %v", e, ok)
	}
	e, ok = From(errors.New("dial tcp 10.0.0.1:443: secret detail"))
	if ok || e.Code != Internal || e.Message != "an internal error occurred" || e.Code.Status() != http.StatusInternalServerError {
		t.Fatalf("%+v %v", e, ok)
	}
}

func TestInvalidNamesTheField(t *testing.T) {
	one := Invalid(FieldError{Field: "name", Issue: "is required"})
	if one.Code != Validation || one.Message != "name: is required" || len(one.Fields) != 1 {
		t.Fatalf("%+v", one)
	}
	two := Invalid(FieldError{Field: "a", Issue: "x"}, FieldError{Field: "b", Issue: "y"})
	if two.Message != "the request body is invalid" || len(two.Fields) != 2 {
		t.Fatalf("%+v", two)
	}
}
