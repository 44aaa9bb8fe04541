// Command entra-sync is EntraSyncFunction: on EventBridge Scheduler it
// queues one sync job per connected tenant; from EntraSyncQueue it runs them.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/uniasset/integrations/shared/boot"
	"github.com/uniasset/integrations/shared/entra"
)

func main() { lambda.Start(boot.Build(entra.Build).Handle) }
