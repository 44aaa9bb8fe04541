package adminroutes

import (
	"net/http"
	"strings"
	"testing"
)

// The list is data the integration function reserves; adminapi's test keeps
// it equal to the admin router. Here: no route twice, every route under the
// integrations prefix with a method the router knows.
func TestRoutesAreDistinctAndWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Routes {
		k := r.Method + " " + r.Pattern
		if seen[k] {
			t.Errorf("%s listed twice", k)
		}
		seen[k] = true
		if !strings.HasPrefix(r.Pattern, "/api/integrations/") {
			t.Errorf("%s is outside /api/integrations/", k)
		}
		switch r.Method {
		case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			t.Errorf("%s: unexpected method", k)
		}
	}
	if len(Routes) == 0 {
		t.Fatal("no routes")
	}
}
