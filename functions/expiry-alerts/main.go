// Command expiry-alerts is ExpiryAlertsFunction: on EventBridge Scheduler,
// one pass over the due-date index → alert deliveries on DeliveryQueue.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/boot"
)

func main() { lambda.Start(boot.Build(alert.Build).Handle) }
