// Command dispatcher is DispatcherFunction: DeliveryQueue → signed POSTs, retries, results.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/uniasset/integrations/shared/boot"
	"github.com/uniasset/integrations/shared/delivery"
)

func main() { lambda.Start(boot.Build(delivery.Build).Handle) }
