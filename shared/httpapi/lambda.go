package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	"github.com/golang-jwt/jwt/v5"
)

// LambdaHandler is what lambda.Start receives for an HTTP API (payload 2.0) function,
// and what the local stack calls for each request.
type LambdaHandler func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Lambda adapts an http.Handler to API Gateway HTTP API events.
func Lambda(h http.Handler) LambdaHandler {
	return httpadapter.NewV2(h).ProxyWithContext
}

// RequestContext returns API Gateway's request context (source IP, request id,
// JWT claims) for a request that came through Lambda.
func RequestContext(ctx context.Context) events.APIGatewayV2HTTPRequestContext {
	rc, _ := core.GetAPIGatewayV2ContextFromContext(ctx)
	return rc
}

// Claims returns the JWT claims API Gateway's authorizer verified, or nil.
func Claims(ctx context.Context) map[string]string {
	rc := RequestContext(ctx)
	if rc.Authorizer == nil || rc.Authorizer.JWT == nil {
		return nil
	}
	return rc.Authorizer.JWT.Claims
}

// StringClaims reports whether each named claim of the request's bearer
// token is a JSON string. API Gateway's authorizer verifies the token but
// hands the function every claim flattened to a string, so a tenant_id sent
// as the number 4242 would arrive as "4242"; the token's own payload (already
// verified, only read here) says what type each claim really has.
func StringClaims(r *http.Request, names ...string) bool {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") { // the scheme is case-insensitive (RFC 9110 11.1)
		return false
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(strings.TrimSpace(token), claims); err != nil {
		return false
	}
	for _, n := range names {
		if _, ok := claims[n].(string); !ok {
			return false
		}
	}
	return true
}
