// Command dispatcher is DispatcherFunction: DeliveryQueue → signed POSTs, retries, results.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/uniasset/integrations/shared/boot"
	"github.com/uniasset/integrations/shared/config"
	"github.com/uniasset/integrations/shared/delivery"
)

func main() {
	ctx := context.Background()
	var cfg config.Dispatcher
	awsCfg := boot.Load(ctx, &cfg)
	d, err := delivery.BuildDispatcher(ctx, cfg, awsCfg)
	boot.Must(err)
	lambda.Start(d.Handle)
}
