package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

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
	return body, nil
}

// DecodeStrict decodes one JSON object into dst, rejecting unknown fields,
// wrong types and trailing data, with errors that name the field.
func DecodeStrict(body []byte, dst any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return apierror.Invalid(apierror.FieldError{Field: "body", Issue: "a JSON object is required"})
	}
	if trimmed[0] != '{' {
		return apierror.Invalid(apierror.FieldError{Field: "body", Issue: "must be a JSON object"})
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apierror.Invalid(apierror.FieldError{Field: "body", Issue: "unexpected data after the JSON object"})
	}
	return nil
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var fieldErr *apierror.Error
	switch {
	case errors.As(err, &fieldErr):
		return fieldErr
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return apierror.Invalid(apierror.FieldError{Field: field, Issue: fmt.Sprintf("must be %s, not %s", jsonType(typeErr.Type.Kind().String()), typeErr.Value)})
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return apierror.Invalid(apierror.FieldError{Field: "body", Issue: "malformed JSON"})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apierror.Invalid(apierror.FieldError{Field: name, Issue: "unknown field"})
	default:
		return apierror.Invalid(apierror.FieldError{Field: "body", Issue: "invalid JSON"})
	}
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "float64", "float32", "int", "int64", "int32":
		return "a number"
	case "bool":
		return "a boolean"
	case "slice":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	default:
		return "of a different type"
	}
}
