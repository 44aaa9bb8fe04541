// Package httpapi is the HTTP plumbing both APIs share: the Lambda adapter,
// routing with JSON 404/405s, strict JSON bodies and the error response.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/uniasset/integrations/shared/apierror"
)

// WriteJSON writes v as the response body.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":{"code":"INTERNAL_ERROR","message":"an internal error occurred"}}`)
	}
	WriteBody(w, status, body, "")
}

// WriteBody is the one place a JSON response is written: its headers, the
// status, the body. code is the error code of an error body ("" for none):
// THROTTLED adds Retry-After.
func WriteBody(w http.ResponseWriter, status int, body []byte, code apierror.Code) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if code == apierror.Throttled {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// RenderError turns err into the status and body the client gets. Only errors
// that were not meant for the client are logged: those are bugs or outages.
func RenderError(ctx context.Context, err error) (int, []byte, apierror.Code) {
	e, known := apierror.From(err)
	switch {
	case known:
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		// The client went away (or the deadline passed) mid-request: not a
		// bug, and no one reads the answer.
		Logger(ctx).Info("request abandoned", "error", err.Error())
	default:
		Logger(ctx).Error("unexpected error", "error", err.Error())
	}
	body, _ := json.Marshal(map[string]any{"error": e})
	return e.Code.Status(), body, e.Code
}

// WriteError answers with the error body and the status its code maps to.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	status, body, code := RenderError(r.Context(), err)
	WriteBody(w, status, body, code)
}

// Logger returns the request-scoped logger (request id attached), or the default one.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

type loggerKey struct{}
