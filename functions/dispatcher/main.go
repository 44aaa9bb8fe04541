// Command dispatcher is DispatcherFunction: DeliveryQueue → signed POSTs,
// retries, results; on its schedule, the sweep of DeliveryDLQ.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/uniasset/integrations/shared/boot"
	"github.com/uniasset/integrations/shared/delivery"
)

func main() { lambda.Start(boot.Build(delivery.Build).Invoke) }
