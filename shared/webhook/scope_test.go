package webhook

import (
	"testing"

	"github.com/uniasset/integrations/shared/asset"
)

func TestScopeMatches(t *testing.T) {
	str := func(s string) *string { return &s }
	vehicle := &asset.Asset{CategoryName: "Vehicles", Type: str("Truck"), Assignment: asset.Assignment{DepartmentID: str("dept_1")}}
	bare := &asset.Asset{CategoryName: "Tools"}
	for _, c := range []struct {
		name  string
		scope *Scope
		a     *asset.Asset
		want  bool
	}{
		{"no scope", nil, vehicle, true},
		{"no scope, unknown asset", nil, nil, true},
		{"empty scope", &Scope{}, nil, true},
		{"category", &Scope{CategoryNames: []string{"Vehicles"}}, vehicle, true},
		{"category, other case", &Scope{CategoryNames: []string{"vehicles"}}, vehicle, true},
		{"category, other", &Scope{CategoryNames: []string{"Vehicles"}}, bare, false},
		{"unknown asset", &Scope{CategoryNames: []string{"Vehicles"}}, nil, false},
		{"department", &Scope{DepartmentIDs: []string{"dept_2", "dept_1"}}, vehicle, true},
		{"department, other case is another id", &Scope{DepartmentIDs: []string{"DEPT_1"}}, vehicle, false},
		{"department, none assigned", &Scope{DepartmentIDs: []string{"dept_1"}}, bare, false},
		{"type", &Scope{Types: []string{"truck"}}, vehicle, true},
		{"type, none set", &Scope{Types: []string{"truck"}}, bare, false},
		{"every field must match", &Scope{CategoryNames: []string{"Vehicles"}, Types: []string{"Van"}}, vehicle, false},
		{"every field matches", &Scope{CategoryNames: []string{"Vehicles"}, DepartmentIDs: []string{"dept_1"}, Types: []string{"Truck"}}, vehicle, true},
	} {
		if got := c.scope.Matches(c.a); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestFilterInput(t *testing.T) {
	for _, c := range []struct {
		name   string
		filter *Scope
		ok     bool
	}{
		{"one category", &Scope{CategoryNames: []string{"Vehicles"}}, true},
		{"empty is no filter", &Scope{}, true},
		{"an empty set", &Scope{CategoryNames: []string{}}, false},
		{"a blank value", &Scope{Types: []string{" "}}, false},
		{"a duplicate, other case", &Scope{CategoryNames: []string{"Vehicles", "vehicles"}}, false},
		{"department ids differ by case", &Scope{DepartmentIDs: []string{"d1", "D1"}}, true},
		{"a control character", &Scope{DepartmentIDs: []string{"d\n1"}}, false},
		{"too many", &Scope{Types: make([]string, 51)}, false},
	} {
		chk := &checker{}
		chk.filter(c.filter)
		if err := chk.Err(); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
