// Command admin-api is the AdminApiFunction Lambda: owner routes behind the JWT authorizer.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/uniasset/integrations/shared/adminapi"
	"github.com/uniasset/integrations/shared/boot"
)

func main() { lambda.Start(boot.HTTP(adminapi.Build)) }
