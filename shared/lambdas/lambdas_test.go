package lambdas_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/uniasset/integrations/shared/devstack"
	"github.com/uniasset/integrations/shared/lambdas"
)

// The registry and the repository agree: every function of the template is
// listed once, with a main at functions/<Main> (the directory Makefile's
// build-<LogicalId> rule derives from the id) that starts the function
// through boot.
func TestRegistryMatchesTemplateAndMains(t *testing.T) {
	tmpl, err := devstack.LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, f := range lambdas.All {
		if listed[f.ID] {
			t.Errorf("%s is listed twice", f.ID)
		}
		listed[f.ID] = true
		if tmpl.Resources[f.ID].Type != "AWS::Serverless::Function" {
			t.Errorf("%s is not a function of the template", f.ID)
		}
		kebab := strings.ToLower(regexp.MustCompile(`([a-z0-9])([A-Z])`).ReplaceAllString(strings.TrimSuffix(f.ID, "Function"), "$1-$2"))
		if f.Main != kebab {
			t.Errorf("%s's main is functions/%s; Makefile's build-%s builds functions/%s", f.ID, f.Main, f.ID, kebab)
		}
		src, err := os.ReadFile(filepath.Join("..", "..", "functions", f.Main, "main.go"))
		if err != nil {
			t.Errorf("%s: %v", f.ID, err)
			continue
		}
		if !strings.Contains(string(src), "boot.") {
			t.Errorf("functions/%s/main.go does not start through boot", f.Main)
		}
		if f.Config() == nil || f.Build == nil {
			t.Errorf("%s has no config or build", f.ID)
		}
	}
	for name, r := range tmpl.Resources {
		if r.Type == "AWS::Serverless::Function" && !listed[name] {
			t.Errorf("the template's %s is not in the registry", name)
		}
	}
	mains, _ := filepath.Glob("../../functions/*/main.go")
	if len(mains) != len(lambdas.All) {
		t.Errorf("%d mains under functions/, %d functions in the registry", len(mains), len(lambdas.All))
	}
}
