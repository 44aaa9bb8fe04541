// Package awsclient builds the AWS SDK configuration every function uses.
package awsclient

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Load reads the standard SDK environment, with the retry policy every
// function uses; the local stack adds its endpoint, region, credentials and
// HTTP client as options. AWS_ENDPOINT_URL (honoured by the SDK itself) points
// every client at moto or LocalStack locally; on Lambda it is unset.
func Load(ctx context.Context, opts ...func(*awsconfig.LoadOptions) error) (aws.Config, error) {
	return awsconfig.LoadDefaultConfig(ctx, append([]func(*awsconfig.LoadOptions) error{
		// A few quick retries absorb throttling; beyond that the client gets a 503 with Retry-After.
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = 3 })
		}),
	}, opts...)...)
}

// Secrets is the one Secrets Manager call the functions make (at cold
// start), so tests can give it a fake, as dynamo.API does for DynamoDB.
type Secrets interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// ReadSecret reads a secret's string: the one place Secrets Manager is read.
func ReadSecret(ctx context.Context, sm Secrets, secretID string) (string, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)})
	if err != nil {
		return "", fmt.Errorf("reading secret %s: %w", secretID, err)
	}
	return aws.ToString(out.SecretString), nil
}
