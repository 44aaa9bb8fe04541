// Command stream-router is StreamRouterFunction: AssetsTable stream → delivery jobs.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/uniasset/integrations/shared/boot"
	"github.com/uniasset/integrations/shared/config"
	"github.com/uniasset/integrations/shared/streamrouter"
)

func main() {
	ctx := context.Background()
	var cfg config.StreamRouter
	awsCfg := boot.Load(ctx, &cfg)
	r, err := streamrouter.Build(ctx, cfg, awsCfg)
	boot.Must(err)
	lambda.Start(r.Handle)
}
