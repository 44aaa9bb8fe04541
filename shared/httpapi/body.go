package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/uniasset/integrations/shared/apierror"
)

// MaxBody is the largest request body either API accepts (64 KiB).
const MaxBody = 64 << 10

// ReadBody reads at most MaxBody bytes and rejects anything larger or not JSON.
func ReadBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, apierror.New(apierror.UnsupportedMediaType, "Content-Type must be application/json (with curl: -H 'Content-Type: application/json')")
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, apierror.New(apierror.Validation, "the request body could not be read")
	}
	if len(body) > MaxBody {
		return nil, apierror.New(apierror.PayloadTooLarge, "the request body exceeds %d bytes", MaxBody)
	}
	// A route that takes no body still refuses one that is not JSON: the
	// caller sent something, and it was not what they think.
	// (Duplicate names and invalid UTF-8 are left to DecodeValid, which
	// names the field.)
	if len(bytes.TrimSpace(body)) > 0 && !jsontext.Value(body).IsValid(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)) {
		return nil, apierror.Invalid(apierror.FieldError{Field: "body", Issue: "malformed JSON"})
	}
	return body, nil
}

// MaxProblems bounds the problems one answer lists.
const MaxProblems = 50

// ReadValid reads the request's body (ReadBody) and decodes it into dst with
// DecodeValid: what every handler taking a JSON body does first.
func ReadValid(r *http.Request, dst any, check func() error) error {
	body, err := ReadBody(r)
	if err != nil {
		return err
	}
	return DecodeValid(body, dst, check)
}

// DecodeValid decodes one JSON object into dst, a pointer to a struct, then
// runs check (the body's own validation; nil for none), and lists every
// problem of both in one VALIDATION_ERROR.
//
// The body must be well-formed UTF-8 JSON with no name given twice in any
// object (anything else is refused as a whole: its meaning is ambiguous).
// Members are then decoded one at a time with json/v2 semantics, so names
// match exactly (no case folding), and each unknown name and each value of the
// wrong type is reported under its own field, not only the first. A field
// that failed to decode is not reported a second time by check (as "is
// required", say).
func DecodeValid(body []byte, dst any, check func() error) error {
	members, err := objectMembers(body)
	if err != nil {
		return err
	}
	var problems []apierror.FieldError
	for _, m := range members {
		if p, ok := decodeMember(m, dst); !ok {
			problems = append(problems, p)
		}
		if len(problems) == MaxProblems {
			// A body this wrong is not a typo; listing thousands of its members
			// would only make the answer (and the call log) large.
			return apierror.Invalid(append(problems, apierror.FieldError{Field: "body", Issue: fmt.Sprintf("has more problems; the first %d are listed", MaxProblems)})...)
		}
	}
	if check != nil {
		if err := check(); err != nil {
			e, ok := apierror.From(err)
			if !ok || e.Code != apierror.Validation || len(e.Fields) == 0 {
				if len(problems) == 0 {
					return err
				}
			} else {
				decoded := len(problems) == 0
				for _, f := range e.Fields {
					// A complaint about the body as a whole ("give at least one
					// of ...") is moot once a member the caller gave is refused.
					if !coveredBy(f.Field, problems) && (decoded || f.Field != "body") {
						problems = append(problems, f)
					}
				}
			}
		}
	}
	if len(problems) > MaxProblems {
		problems = append(problems[:MaxProblems], apierror.FieldError{Field: "body", Issue: fmt.Sprintf("has more problems; the first %d are listed", MaxProblems)})
	}
	if len(problems) > 0 {
		return apierror.Invalid(problems...)
	}
	return nil
}

type member struct {
	name  string
	value jsontext.Value
}

// objectMembers checks the body as a whole and splits its top-level object into members.
func objectMembers(body []byte) ([]member, error) {
	bad := func(issue string) error {
		return apierror.Invalid(apierror.FieldError{Field: "body", Issue: issue})
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, bad("a JSON object is required")
	}
	if !utf8.Valid(body) {
		return nil, bad("must be valid UTF-8")
	}
	// jsontext's defaults refuse duplicate names (at any depth) and invalid UTF-8 in strings.
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, syntaxProblem(err)
	}
	if tok.Kind() != '{' {
		return nil, bad("must be a JSON object")
	}
	var members []member
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, syntaxProblem(err)
		}
		name := tok.String() // the token is only valid until the next read
		value, err := dec.ReadValue()
		if err != nil {
			return nil, syntaxProblem(err)
		}
		members = append(members, member{name: name, value: bytes.Clone(value)})
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, syntaxProblem(err)
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return nil, bad("unexpected data after the JSON object")
	}
	return members, nil
}

func syntaxProblem(err error) error {
	var se *jsontext.SyntacticError
	if errors.As(err, &se) && errors.Is(se.Err, jsontext.ErrDuplicateName) {
		return apierror.Invalid(apierror.FieldError{Field: fieldOf(se.JSONPointer), Issue: "is given more than once"})
	}
	return apierror.Invalid(apierror.FieldError{Field: "body", Issue: "malformed JSON"})
}

// NullAccepter is a field type for which JSON null means something (clear
// this field): only such fields take null. Anywhere else null would decode
// as "not given", silently ignoring what the caller meant, so it is refused.
type NullAccepter interface{ AcceptsNull() bool }

var nullAccepter = reflect.TypeFor[NullAccepter]()

// fieldType is the type of struct type t's field for the JSON name (t may
// be a pointer to a struct); ok is false for no such field.
func fieldType(t reflect.Type, name string) (reflect.Type, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, false
	}
	for f := range t.Fields() {
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && tag == "" {
			if ft, ok := fieldType(f.Type, name); ok {
				return ft, true
			}
			continue
		}
		if tag == name || (tag == "" && f.Name == name) {
			return f.Type, true
		}
	}
	return nil, false
}

// decodesItself reports whether t has a JSON decoder of its own.
func decodesItself(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	_, v1 := pt.MethodByName("UnmarshalJSON")
	_, v2 := pt.MethodByName("UnmarshalJSONFrom")
	return v1 || v2
}

func acceptsNull(t reflect.Type) bool {
	return t.Implements(nullAccepter) || reflect.PointerTo(t).Implements(nullAccepter)
}

// refusedNull finds a null in v, the JSON for a value of type t, where t
// (or the field, element or map value it is in) would take it as "not
// given", silently ignoring what the caller meant: at v itself, or nested
// in its objects and arrays. It returns the path below v.
func refusedNull(v jsontext.Value, t reflect.Type) (string, bool) {
	if v.Kind() == 'n' {
		return "", !acceptsNull(t)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if decodesItself(t) {
		return "", false // its own decoder says what is wrong
	}
	switch {
	case v.Kind() == '{' && (t.Kind() == reflect.Struct || t.Kind() == reflect.Map):
		var members map[string]jsontext.Value
		if json.Unmarshal(v, &members) != nil {
			return "", false // decoding says what is wrong
		}
		for _, name := range slices.Sorted(maps.Keys(members)) {
			ft, ok := fieldType(t, name) // unknown: decoding says so
			if t.Kind() == reflect.Map {
				ft, ok = t.Elem(), true
			}
			if !ok {
				continue
			}
			if p, found := refusedNull(members[name], ft); found {
				return "." + name + p, true
			}
		}
	case v.Kind() == '[' && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		var elems []jsontext.Value
		if json.Unmarshal(v, &elems) != nil {
			return "", false
		}
		for i, e := range elems {
			if p, found := refusedNull(e, t.Elem()); found {
				return fmt.Sprintf("[%d]", i) + p, true
			}
		}
	}
	return "", false
}

// decodeMember decodes one member into dst; on failure it says what is wrong with it.
func decodeMember(m member, dst any) (apierror.FieldError, bool) {
	if ft, ok := fieldType(reflect.TypeOf(dst), m.name); ok { // unknown: decoding says so
		if p, found := refusedNull(m.value, ft); found {
			return apierror.FieldError{Field: m.name + p, Issue: "must not be null (leave it out instead)"}, false
		}
	}
	name, _ := jsontext.AppendQuote(nil, m.name) // cannot fail: the body is valid UTF-8
	obj := jsontext.Value(fmt.Appendf(nil, "{%s:%s}", name, m.value))
	err := json.Unmarshal(obj, dst, json.RejectUnknownMembers(true))
	if err == nil {
		return apierror.FieldError{}, true
	}
	var se *json.SemanticError
	if !errors.As(err, &se) {
		return apierror.FieldError{Field: m.name, Issue: "could not be read"}, false
	}
	field := fieldOf(se.JSONPointer)
	if field == "body" {
		field = m.name
	}
	if field == "" {
		field = `""` // a member whose name is the empty string
	}
	if errors.Is(se.Err, json.ErrUnknownName) {
		issue := "unknown field"
		if json.Unmarshal(obj, reflect.New(reflect.TypeOf(dst).Elem()).Interface(), json.RejectUnknownMembers(true), json.MatchCaseInsensitiveNames(true)) == nil {
			issue = "unknown field (field names are case-sensitive)"
		}
		return apierror.FieldError{Field: field, Issue: issue}, false
	}
	var own *apierror.Error
	if errors.As(se.Err, &own) && len(own.Fields) == 1 {
		return apierror.FieldError{Field: field, Issue: own.Fields[0].Issue}, false
	}
	return apierror.FieldError{Field: field, Issue: typeIssue(se)}, false
}

// fieldOf turns a JSON pointer (/headers/X-A, /events/0) into the field names
// error responses use (headers.X-A, events[0]).
func fieldOf(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		switch {
		case b.Len() > 0 && isIndex(tok):
			b.WriteString("[" + tok + "]")
		case b.Len() > 0:
			b.WriteString("." + tok)
		default:
			b.WriteString(tok)
		}
	}
	if b.Len() == 0 {
		return "body"
	}
	return b.String()
}

func isIndex(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// coveredBy reports whether field or a field inside it already has a decoding problem.
func coveredBy(field string, problems []apierror.FieldError) bool {
	for _, p := range problems {
		if p.Field == field || strings.HasPrefix(p.Field, field+".") || strings.HasPrefix(p.Field, field+"[") ||
			strings.HasPrefix(field, p.Field+".") || strings.HasPrefix(field, p.Field+"[") {
			return true
		}
	}
	return false
}

func typeIssue(se *json.SemanticError) string {
	got := map[jsontext.Kind]string{'"': "a string", '0': "a number", 't': "a boolean", 'f': "a boolean",
		'n': "null", '{': "an object", '[': "an array"}[se.JSONKind]
	want := "of a different type"
	if se.GoType != nil {
		t := se.GoType
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.String:
			want = "a string"
		case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			want = "a number"
		case reflect.Bool:
			want = "a boolean"
		case reflect.Slice, reflect.Array:
			want = "an array"
		case reflect.Map, reflect.Struct:
			want = "an object"
		}
	}
	switch {
	case got == "" || got == want:
		// Right kind, value out of range (a number too large for its type, say).
		return "must be " + want + " in range"
	default:
		return fmt.Sprintf("must be %s, not %s", want, got)
	}
}
