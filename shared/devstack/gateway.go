package devstack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uniasset/integrations/shared/httpapi"
)

// maxGatewayBody is API Gateway HTTP API's payload limit.
const maxGatewayBody = 10 << 20

// Gateway stands in for API Gateway's HTTP API: it matches the template's
// routes, runs the JWT authorizer where the template puts one, builds the
// payload-2.0 event and calls the function's handler, then writes its response.
type Gateway struct {
	mux          *http.ServeMux
	defaultRoute *Route
	authorizer   *Issuer
	handlers     map[string]httpapi.LambdaHandler
	// IntegrationTimeout is how long the gateway waits for a function
	// (HTTP API's default and maximum: 30 s; tests shorten it).
	IntegrationTimeout time.Duration
	// Usage records each invocation (nil: none).
	Usage *Usage
}

// integrationTimeout is HTTP API's integration timeout for a Lambda proxy.
const integrationTimeout = 30 * time.Second

// NewGateway builds a gateway for routes; handlers are keyed by function logical id.
func NewGateway(routes []Route, handlers map[string]httpapi.LambdaHandler, authorizer *Issuer) (*Gateway, error) {
	g := &Gateway{mux: http.NewServeMux(), authorizer: authorizer, handlers: handlers, IntegrationTimeout: integrationTimeout}
	for _, r := range routes {
		if _, ok := handlers[r.Function]; !ok {
			return nil, fmt.Errorf("no local handler for %s", r.Function)
		}
		if r.Path == "" {
			g.defaultRoute = &r
			continue
		}
		route := r
		pattern := r.Path
		if r.Method != "" && r.Method != "ANY" {
			pattern = r.Method + " " + r.Path
		}
		g.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			g.invoke(w, req, route)
		}))
	}
	return g, nil
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// API Gateway sends a request no route matches (wrong method included) to $default.
	if _, pattern := g.mux.Handler(r); pattern != "" {
		g.mux.ServeHTTP(w, r)
		return
	}
	if g.defaultRoute == nil {
		gatewayError(w, http.StatusNotFound, "Not Found")
		return
	}
	g.invoke(w, r, *g.defaultRoute)
}

func gatewayError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"message":%q}`, msg)
}

func (g *Gateway) invoke(w http.ResponseWriter, r *http.Request, route Route) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxGatewayBody+1))
	if err != nil {
		gatewayError(w, http.StatusBadRequest, "Bad Request")
		return
	}
	if len(body) > maxGatewayBody {
		gatewayError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	var claims map[string]string
	if route.JWT {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			claims, err = g.authorizer.Verify(strings.TrimSpace(token))
		}
		if !ok || claims == nil || err != nil {
			// What API Gateway answers itself; the function is never called.
			w.Header().Set("WWW-Authenticate", "Bearer")
			gatewayError(w, http.StatusUnauthorized, "Unauthorized")
			return
		}
	}
	ev := buildEvent(r, route, body, claims)
	// A client that hangs up does not stop a Lambda invocation; only its
	// Timeout, or the integration timeout, ends it.
	ctx := context.WithoutCancel(r.Context())
	limit, gatewayFirst := route.Timeout, false
	if limit <= 0 || limit > g.IntegrationTimeout {
		// (On AWS such a function runs on after the gateway gives up; no
		// HTTP function here has a Timeout past 30 s.)
		limit, gatewayFirst = g.IntegrationTimeout, true
	}
	resp, err := invoke(ctx, g.Usage, route.Function, limit, g.handlers[route.Function], ev)
	var timedOut *TimedOut
	if errors.As(err, &timedOut) && gatewayFirst {
		// The gateway gave up before the function answered or timed out.
		gatewayError(w, http.StatusServiceUnavailable, "Service Unavailable")
		return
	}
	g.respond(w, route, resp, err)
}

// respond writes the function's response, or what HTTP API answers for a
// function error (a timeout included: Lambda reports it as one).
func (g *Gateway) respond(w http.ResponseWriter, route Route, resp events.APIGatewayV2HTTPResponse, err error) {
	if err != nil {
		slog.Error("function error", "function", route.Function, "error", err.Error())
		gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	writeResponse(w, resp)
}

func buildEvent(r *http.Request, route Route, body []byte, claims map[string]string) events.APIGatewayV2HTTPRequest {
	now := time.Now()
	routeKey := "$default"
	if route.Path != "" {
		routeKey = route.Method + " " + route.Path
	}
	headers := map[string]string{}
	var cookies []string
	for name, values := range r.Header {
		lower := strings.ToLower(name)
		if lower == "cookie" {
			for _, v := range values {
				cookies = append(cookies, strings.Split(v, "; ")...)
			}
			continue
		}
		headers[lower] = strings.Join(values, ",")
	}
	query := map[string]string{}
	for k, v := range r.URL.Query() {
		query[k] = strings.Join(v, ",")
	}
	var params map[string]string
	if strings.Contains(route.Path, "{") {
		params = map[string]string{}
		for _, seg := range strings.Split(route.Path, "/") {
			if strings.HasPrefix(seg, "{") {
				name := strings.Trim(seg, "{}+")
				params[name] = r.PathValue(name)
			}
		}
	}
	sourceIP, _, _ := net.SplitHostPort(r.RemoteAddr)
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: routeKey, RawPath: r.URL.EscapedPath(), RawQueryString: r.URL.RawQuery,
		Cookies: cookies, Headers: headers, QueryStringParameters: query, PathParameters: params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: routeKey, AccountID: "000000000000", Stage: "$default", RequestID: requestID(),
			APIID: "local", DomainName: r.Host, DomainPrefix: "local",
			Time: now.UTC().Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: sourceIP, UserAgent: r.UserAgent(),
			},
		},
	}
	if claims != nil {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims, Scopes: nil},
		}
	}
	if utf8.Valid(body) {
		ev.Body = string(body)
	} else {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return ev
}

func requestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func writeResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = b
		}
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Limits of the local gateway's HTTP server, near API Gateway's: a client
// has 10 s for its headers and 30 s for its whole request (a body trickled
// at a byte a second is cut off, not held open), an answer must be written
// within 35 s (API Gateway ends an integration at 30 s), and an idle
// keep-alive connection is closed after 60 s.
const (
	gatewayHeaderTimeout = 10 * time.Second
	gatewayReadTimeout   = 30 * time.Second
	gatewayWriteTimeout  = 35 * time.Second
	gatewayIdleTimeout   = 60 * time.Second
)

// GatewayServer is the HTTP server make run serves the gateway with.
func GatewayServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr: addr, Handler: h, MaxHeaderBytes: 64 << 10,
		ReadHeaderTimeout: gatewayHeaderTimeout, ReadTimeout: gatewayReadTimeout,
		WriteTimeout: gatewayWriteTimeout, IdleTimeout: gatewayIdleTimeout,
	}
}
