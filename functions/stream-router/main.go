// Command stream-router is StreamRouterFunction: AssetsTable stream →
// delivery jobs; on its schedule, the sweep of StreamDLQ.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/uniasset/integrations/shared/boot"
	"github.com/uniasset/integrations/shared/streamrouter"
)

func main() { lambda.Start(boot.Build(streamrouter.Build).Invoke) }
