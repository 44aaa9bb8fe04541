package httpapi

import (
	"context"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/uniasset/integrations/shared/boot"
	"github.com/uniasset/integrations/shared/config"
)

// Build is how an HTTP function turns its configuration into its handler;
// the Lambda's main and the local stack both call it.
type Build[C any] func(ctx context.Context, cfg C, awsCfg aws.Config) (http.Handler, error)

// LambdaMain is the body of an HTTP function's main: read the function's
// configuration and build the handler once, at cold start, and return what
// lambda.Start receives.
func LambdaMain[C any, P interface {
	*C
	config.Function
}](build Build[C]) LambdaHandler {
	return Lambda(boot.Build[C, P](build))
}
