package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/uniasset/integrations/shared/apierror"
)

// Router maps method+path to handlers. Unlike a bare ServeMux it answers
// unknown paths and wrong methods with the API's JSON error body.
type Router struct {
	mux     *http.ServeMux
	methods map[string]map[string]http.Handler // path pattern -> method -> handler
}

func NewRouter() *Router {
	rt := &Router{mux: http.NewServeMux(), methods: map[string]map[string]http.Handler{}}
	rt.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, apierror.New(apierror.NotFound, "no route for %s %s", r.Method, r.URL.Path))
	})
	return rt
}

// Handle registers h for method on the ServeMux-style path pattern.
func (rt *Router) Handle(method, pattern string, h http.Handler) {
	byMethod, seen := rt.methods[pattern]
	if !seen {
		byMethod = map[string]http.Handler{}
		rt.methods[pattern] = byMethod
		rt.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if h, ok := byMethod[r.Method]; ok {
				h.ServeHTTP(w, r)
				return
			}
			allowed := make([]string, 0, len(byMethod))
			for m := range byMethod {
				allowed = append(allowed, m)
			}
			slices.Sort(allowed)
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			WriteError(w, r, apierror.New(apierror.MethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path))
		})
	}
	byMethod[method] = h
}

// Route is a method and ServeMux path pattern.
type Route struct{ Method, Pattern string }

// Endpoint is a route with its handler: each function declares its routes once, as a table.
type Endpoint struct {
	Route
	Handler http.Handler
}

// RoutesOf lists the routes of a table (for the template drift test and Reserve).
func RoutesOf(table []Endpoint) []Route {
	out := make([]Route, len(table))
	for i, e := range table {
		out[i] = e.Route
	}
	return out
}

// Mount registers every endpoint of a table.
func (rt *Router) Mount(table []Endpoint) {
	for _, e := range table {
		rt.Handle(e.Method, e.Pattern, e.Handler)
	}
}

// Reserve registers routes another function serves. A request for them reaches
// this router only through API Gateway's $default route, that is with a method
// the path does not take, so it is answered 405 with the right Allow header.
func (rt *Router) Reserve(routes []Route) {
	for _, r := range routes {
		rt.Handle(r.Method, r.Pattern, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			WriteError(w, req, apierror.New(apierror.MethodNotAllowed, "%s is not allowed on %s", req.Method, req.URL.Path))
		}))
	}
}

// HandleFunc is Handle for a function.
func (rt *Router) HandleFunc(method, pattern string, h http.HandlerFunc) {
	rt.Handle(method, pattern, h)
}

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := RequestContext(r.Context())
	log := Logger(r.Context()).With("requestId", rc.RequestID, "route", r.Method+" "+r.URL.Path)
	ctx := context.WithValue(r.Context(), loggerKey{}, log)
	w.Header().Set("X-Request-Id", rc.RequestID)
	defer func() {
		// A panic is a bug; the client still gets a well-formed 500 and the stack stays in the log.
		if p := recover(); p != nil {
			log.Error("panic", "panic", p)
			WriteError(w, r, apierror.New(apierror.Internal, "an internal error occurred"))
		}
	}()
	rt.mux.ServeHTTP(w, r.WithContext(ctx))
}
