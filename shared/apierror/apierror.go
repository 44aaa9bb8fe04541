// Package apierror holds the one error type the APIs return and the single
// place where its codes are mapped to HTTP statuses.
package apierror

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a stable, documented error code that clients may branch on.
type Code string

const (
	Unauthorized            Code = "UNAUTHORIZED"
	Forbidden               Code = "FORBIDDEN"
	EnterpriseRequired      Code = "ENTERPRISE_REQUIRED"
	PlanUpgradeRequired     Code = "PLAN_UPGRADE_REQUIRED"
	InsufficientPermissions Code = "INSUFFICIENT_PERMISSIONS"
	IPNotAllowed            Code = "IP_NOT_ALLOWED"
	Validation              Code = "VALIDATION_ERROR"
	PayloadTooLarge         Code = "PAYLOAD_TOO_LARGE"
	UnsupportedMediaType    Code = "UNSUPPORTED_MEDIA_TYPE"
	NotFound                Code = "NOT_FOUND"
	MethodNotAllowed        Code = "METHOD_NOT_ALLOWED"
	Conflict                Code = "CONFLICT"
	IdempotencyConflict     Code = "IDEMPOTENCY_CONFLICT"
	IdempotencyInProgress   Code = "IDEMPOTENCY_IN_PROGRESS"
	Throttled               Code = "THROTTLED"
	RateLimited             Code = "RATE_LIMITED"
	VerificationFailed      Code = "VERIFICATION_FAILED"
	NotConfigured           Code = "ENTRA_NOT_CONFIGURED"
	Internal                Code = "INTERNAL_ERROR"
)

// Codes is every code, for the documents that list them.
var Codes = []Code{Unauthorized, Forbidden, EnterpriseRequired, PlanUpgradeRequired, InsufficientPermissions, IPNotAllowed,
	Validation, PayloadTooLarge, UnsupportedMediaType, NotFound, MethodNotAllowed, Conflict, IdempotencyConflict,
	IdempotencyInProgress, Throttled, RateLimited, VerificationFailed, NotConfigured, Internal}

// Status is the one mapping from code to HTTP status.
func (c Code) Status() int {
	switch c {
	case Unauthorized:
		return http.StatusUnauthorized
	case Forbidden, EnterpriseRequired, PlanUpgradeRequired, InsufficientPermissions, IPNotAllowed:
		return http.StatusForbidden
	case Validation:
		return http.StatusBadRequest
	case PayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case UnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case NotFound:
		return http.StatusNotFound
	case MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case Conflict, IdempotencyConflict, IdempotencyInProgress:
		return http.StatusConflict
	case RateLimited:
		return http.StatusTooManyRequests
	case VerificationFailed:
		return http.StatusUnprocessableEntity
	case Throttled, NotConfigured:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// FieldError names one invalid field of a request body.
type FieldError struct {
	Field string `json:"field"`
	Issue string `json:"issue"`
}

// Error is returned by every layer that has something to tell the client.
type Error struct {
	Code    Code         `json:"code"`
	Message string       `json:"message"`
	Fields  []FieldError `json:"fields,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// New builds an Error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid builds a VALIDATION_ERROR listing the offending fields.
func Invalid(fields ...FieldError) *Error {
	msg := "the request body is invalid"
	if len(fields) == 1 {
		msg = fields[0].Field + ": " + fields[0].Issue
	}
	return &Error{Code: Validation, Message: msg, Fields: fields}
}

// From returns the *Error inside err, or an INTERNAL_ERROR that reveals nothing.
// The second result is false for errors the client was not meant to see.
func From(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return &Error{Code: Internal, Message: "an internal error occurred"}, false
}
