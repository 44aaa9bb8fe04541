package awsclient

import (
	"context"
	"testing"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// Every function gets the same short retry policy; a caller's options
// (the local stack's region and endpoint) apply on top.
func TestLoadKeepsTheRetryPolicyAndTheCallersOptions(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	cfg, err := Load(context.Background(), awsconfig.WithRegion("eu-central-1"), awsconfig.WithBaseEndpoint("http://127.0.0.1:4566"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Retryer().MaxAttempts(); got != 3 {
		t.Errorf("MaxAttempts = %d, want 3", got)
	}
	if cfg.Region != "eu-central-1" || cfg.BaseEndpoint == nil || *cfg.BaseEndpoint != "http://127.0.0.1:4566" {
		t.Errorf("options lost: region %q endpoint %v", cfg.Region, cfg.BaseEndpoint)
	}
}
