package apidoc

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// Field is one field of a request body, as the guide's table shows it.
type Field struct {
	Name     string `json:"name"`
	Type     string `json:"type"` // "string", "number", "string or null"
	Required bool   `json:"required"`
	// Limits are what a value must keep to: length, range, pattern.
	Limits string `json:"limits"`
	// Description says what the field is, and what null does.
	Description string `json:"description"`
}

// fieldSchema is the part of a JSON schema the fields table reads.
type fieldSchema struct {
	Ref         string        `yaml:"$ref"`
	AllOf       []fieldSchema `yaml:"allOf"`
	Type        yaml.Node     `yaml:"type"`
	Required    []string      `yaml:"required"`
	Properties  yaml.Node     `yaml:"properties"`
	Description string        `yaml:"description"`
	MaxLength   *int          `yaml:"maxLength"`
	MinLength   *int          `yaml:"minLength"`
	Minimum     *float64      `yaml:"minimum"`
	Maximum     *float64      `yaml:"maximum"`
	Pattern     string        `yaml:"pattern"`
	Enum        []string      `yaml:"enum"`
}

var schemas = sync.OnceValues(func() (map[string]fieldSchema, error) {
	var doc struct {
		Components struct {
			Schemas map[string]fieldSchema `yaml:"schemas"`
		} `yaml:"components"`
	}
	err := yaml.Unmarshal(Document, &doc)
	return doc.Components.Schemas, err
})

// bodyFields lists the fields of the schema named by ref, in the document's
// order: those of the schemas it is built of (allOf) first. A field of the
// Ref schema (assetId, externalId) is required as one of the two.
func bodyFields(ref string) ([]Field, error) {
	all, err := schemas()
	if err != nil {
		return nil, err
	}
	var out []Field
	var walk func(s fieldSchema, depth int) error
	walk = func(s fieldSchema, depth int) error {
		if depth > 8 {
			return fmt.Errorf("apidoc: %s nests too deep", ref)
		}
		if s.Ref != "" {
			name := strings.TrimPrefix(s.Ref, "#/components/schemas/")
			target, ok := all[name]
			if !ok {
				return fmt.Errorf("apidoc: no schema %s", name)
			}
			if name == "Ref" {
				for _, f := range []string{"assetId", "externalId"} {
					out = append(out, Field{Name: f, Type: "string", Required: true, Description: "one of the two names the asset: " + target.Description})
				}
				return nil
			}
			return walk(target, depth+1)
		}
		for _, part := range s.AllOf {
			if err := walk(part, depth+1); err != nil {
				return err
			}
		}
		for i := 0; i+1 < len(s.Properties.Content); i += 2 {
			name := s.Properties.Content[i].Value
			var p fieldSchema
			if err := s.Properties.Content[i+1].Decode(&p); err != nil {
				return fmt.Errorf("apidoc: %s.%s: %w", ref, name, err)
			}
			out = append(out, Field{Name: name, Type: typeOf(p), Limits: limitsOf(p), Description: p.Description,
				Required: slices.Contains(s.Required, name)})
		}
		return nil
	}
	return out, walk(fieldSchema{Ref: "#/components/schemas/" + ref}, 0)
}

// typeOf spells a schema's type: "string", or "string or null".
func typeOf(p fieldSchema) string {
	switch p.Type.Kind {
	case yaml.ScalarNode:
		return p.Type.Value
	case yaml.SequenceNode:
		var names []string
		for _, n := range p.Type.Content {
			names = append(names, n.Value)
		}
		return strings.Join(names, " or ")
	}
	if len(p.Enum) > 0 {
		return "string"
	}
	return "any"
}

// limitsOf spells what a value must keep to.
func limitsOf(p fieldSchema) string {
	var l []string
	switch {
	case p.MinLength != nil && p.MaxLength != nil:
		l = append(l, fmt.Sprintf("%d to %d characters", *p.MinLength, *p.MaxLength))
	case p.MaxLength != nil:
		l = append(l, fmt.Sprintf("at most %d characters", *p.MaxLength))
	}
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	switch {
	case p.Minimum != nil && p.Maximum != nil:
		l = append(l, num(*p.Minimum)+" to "+num(*p.Maximum))
	case p.Minimum != nil:
		l = append(l, "at least "+num(*p.Minimum))
	case p.Maximum != nil:
		l = append(l, "at most "+num(*p.Maximum))
	}
	if p.Pattern != "" {
		l = append(l, "matches `"+p.Pattern+"`")
	}
	if len(p.Enum) > 0 {
		l = append(l, "one of `"+strings.Join(p.Enum, "`, `")+"`")
	}
	return strings.Join(l, "; ")
}
