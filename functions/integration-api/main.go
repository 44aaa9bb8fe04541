// Command integration-api is the IntegrationApiFunction Lambda: API-key
// authenticated writes from ERP and IoT systems (and API Gateway's $default route).
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/uniasset/integrations/shared/boot"
	"github.com/uniasset/integrations/shared/integrationapi"
)

func main() { lambda.Start(boot.HTTP(integrationapi.Build)) }
