package apikey

import (
	"fmt"

	"github.com/uniasset/integrations/shared/validate"
)

// NewKeyInput is the body of POST /api/integrations/api-keys: what an owner
// submits to create a key.
type NewKeyInput struct {
	Name        string       `json:"name"`
	Permissions []Permission `json:"permissions"`
}

// Validate checks the name and permissions; an empty permission list is allowed
// (the spec: such a key authenticates but may not write anything).
func (in NewKeyInput) Validate() error {
	var p validate.Problems
	p.Text("name", in.Name, validate.Line, maxNameLength, true)
	if in.Permissions == nil {
		p.Add("permissions", "is required (may be an empty array)")
	}
	seen := map[Permission]bool{}
	for i, perm := range in.Permissions {
		field := fmt.Sprintf("permissions[%d]", i)
		switch {
		case !perm.Known():
			p.Add(field, fmt.Sprintf("unknown permission %q", perm))
		case seen[perm]:
			p.Add(field, fmt.Sprintf("duplicate permission %q", perm))
		}
		seen[perm] = true
	}
	return p.Err()
}
