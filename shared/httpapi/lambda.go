package httpapi

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
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
