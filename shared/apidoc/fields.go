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
	Items       *fieldSchema  `yaml:"items"`
	MinItems    *int          `yaml:"minItems"`
	MaxItems    *int          `yaml:"maxItems"`
	OneOf       []fieldSchema `yaml:"oneOf"`
	// orNull: the schema was one of it or null (set by resolve).
	orNull bool
}

var schemas = sync.OnceValues(func() (map[string]fieldSchema, error) {
	doc, err := parsed()
	if err != nil {
		return nil, err
	}
	var all map[string]fieldSchema
	return all, doc.Components.Schemas.Decode(&all)
})

// bodyFields lists the fields of body's schema (a $ref or inline), in the
// document's order: those of the schemas it is built of (allOf) first. The
// Ref schema's two fields (assetId, externalId) are each optional: exactly
// one of them is given. ref names the body in errors.
func bodyFields(ref string, body fieldSchema) ([]Field, error) {
	all, err := schemas()
	if err != nil {
		return nil, err
	}
	var out []Field
	var walk, props func(s fieldSchema, prefix string, depth int) error
	walk = func(s fieldSchema, _ string, depth int) error {
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
					out = append(out, Field{Name: f, Type: "string", Limits: "exactly one of `assetId`, `externalId`", Description: target.Description})
				}
				return nil
			}
			return walk(target, "", depth+1)
		}
		for _, part := range s.AllOf {
			if err := walk(part, "", depth+1); err != nil {
				return err
			}
		}
		return props(s, "", depth)
	}
	// props lists s's properties under prefix; an object's own fields
	// follow it, named parent.field (rateLimit.requests).
	props = func(s fieldSchema, prefix string, depth int) error {
		if depth > 8 {
			return fmt.Errorf("apidoc: %s nests too deep", ref)
		}
		for i := 0; i+1 < len(s.Properties.Content); i += 2 {
			name := s.Properties.Content[i].Value
			var p fieldSchema
			if err := s.Properties.Content[i+1].Decode(&p); err != nil {
				return fmt.Errorf("apidoc: %s.%s: %w", ref, name, err)
			}
			p, err := resolve(all, p)
			if err != nil {
				return fmt.Errorf("apidoc: %s.%s: %w", ref, name, err)
			}
			out = append(out, Field{Name: prefix + name, Type: typeOf(all, p), Limits: limitsOf(all, p), Description: p.Description,
				Required: slices.Contains(s.Required, name)})
			if err := props(p, prefix+name+".", depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(body, "", 0)
}

// resolve is p with its $ref followed: the named schema, with p's own
// description where it has one.
func resolve(all map[string]fieldSchema, p fieldSchema) (fieldSchema, error) {
	if len(p.OneOf) == 2 && p.OneOf[1].Type.Value == "null" {
		// {oneOf: [X, {type: null}]}: X, or null to clear it.
		one, err := resolve(all, p.OneOf[0])
		if p.Description != "" {
			one.Description = p.Description
		}
		one.orNull = true
		return one, err
	}
	if p.Ref == "" {
		return p, nil
	}
	name := strings.TrimPrefix(p.Ref, "#/components/schemas/")
	target, ok := all[name]
	if !ok {
		return p, fmt.Errorf("no schema %s", name)
	}
	if p.Description != "" {
		target.Description = p.Description
	}
	return target, nil
}

// typeOf spells a schema's type: "string", "string or null", "array of
// string".
func typeOf(all map[string]fieldSchema, p fieldSchema) string {
	var t string
	switch p.Type.Kind {
	case yaml.ScalarNode:
		t = p.Type.Value
	case yaml.SequenceNode:
		var names []string
		for _, n := range p.Type.Content {
			names = append(names, n.Value)
		}
		t = strings.Join(names, " or ")
	default:
		switch {
		case len(p.Enum) > 0:
			t = "string"
		case len(p.Properties.Content) > 0:
			t = "object"
		default:
			t = "any"
		}
	}
	if items := itemsOf(all, p); items != nil && strings.HasPrefix(t, "array") {
		t = "array of " + typeOf(all, *items) + strings.TrimPrefix(t, "array")
	}
	if p.orNull {
		t += " or null"
	}
	return t
}

// itemsOf is an array's item schema, its $ref followed (nil: none).
func itemsOf(all map[string]fieldSchema, p fieldSchema) *fieldSchema {
	if p.Items == nil {
		return nil
	}
	items, err := resolve(all, *p.Items)
	if err != nil {
		return nil
	}
	return &items
}

// limitsOf spells what a value must keep to.
func limitsOf(all map[string]fieldSchema, p fieldSchema) string {
	var l []string
	switch {
	case p.MinItems != nil && p.MaxItems != nil:
		l = append(l, fmt.Sprintf("%d to %d items", *p.MinItems, *p.MaxItems))
	case p.MaxItems != nil:
		l = append(l, fmt.Sprintf("at most %d items", *p.MaxItems))
	case p.MinItems != nil && *p.MinItems == 1:
		l = append(l, "at least one item")
	case p.MinItems != nil:
		l = append(l, fmt.Sprintf("at least %d items", *p.MinItems))
	}
	if items := itemsOf(all, p); items != nil {
		if each := limitsOf(all, *items); each != "" {
			l = append(l, "each "+each)
		}
	}
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
