// Package httpapi is the HTTP plumbing both APIs share: the Lambda adapter,
// routing with JSON 404/405s, strict JSON bodies and the error response.
package httpapi

import (
	"encoding/json"
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
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// WriteError answers with the error body and the status its code maps to.
// Only errors that were not meant for the client are logged: those are bugs or outages.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e, known := apierror.From(err)
	if !known {
		Logger(r.Context()).Error("unexpected error", "error", err.Error())
	}
	if e.Code == apierror.Throttled {
		w.Header().Set("Retry-After", "1")
	}
	WriteJSON(w, e.Code.Status(), map[string]any{"error": e})
}

// Logger returns the request-scoped logger (request id attached), or the default one.
func Logger(ctx interface{ Value(any) any }) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

type loggerKey struct{}
