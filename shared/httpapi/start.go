package httpapi

import (
	"context"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/uniasset/integrations/shared/boot"
	"github.com/uniasset/integrations/shared/config"
)

// Build is how an HTTP function turns configuration into its handler; the
// Lambda's main and the local stack both call it.
type Build func(ctx context.Context, cfg config.Config, awsCfg aws.Config) (http.Handler, error)

// LambdaMain is the body of an HTTP function's main: build the handler once,
// at cold start, and return what lambda.Start receives.
func LambdaMain(build Build) LambdaHandler {
	ctx := context.Background()
	cfg, awsCfg := boot.Load(ctx)
	h, err := build(ctx, cfg, awsCfg)
	boot.Must(err)
	return Lambda(h)
}
