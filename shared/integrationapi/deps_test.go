package integrationapi

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// What each deployed function links decides its size and cold start. The
// packages listed here once slipped in through a convenience import (the
// admin route list) or html/template, whose reflection keeps every exported
// method alive: about 4 MiB and a few ms of cold start each time.
func TestFunctionsDoNotLinkHeavyPackages(t *testing.T) {
	forbidden := map[string][]string{
		"integration-api": {"github.com/uniasset/integrations/shared/adminapi", "github.com/uniasset/integrations/shared/apidoc",
			"gopkg.in/yaml.v3", "html/template", "text/template"},
		"admin-api": {"html/template", "text/template"},
	}
	for fn, bad := range forbidden {
		out, err := exec.Command("go", "list", "-tags", "lambda.norpc", "-deps", "github.com/uniasset/integrations/functions/"+fn).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", fn, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 50 {
			t.Fatalf("go list %s returned %d packages; expected the full dependency list", fn, len(deps))
		}
		for _, pkg := range bad {
			if slices.Contains(deps, pkg) {
				t.Errorf("%s links %s", fn, pkg)
			}
		}
	}
}
