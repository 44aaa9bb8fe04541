// Package boot is what every Lambda does at cold start: read the configuration,
// set up JSON logging and load the AWS SDK configuration. Failing here is fatal.
package boot

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/uniasset/integrations/shared/awsclient"
	"github.com/uniasset/integrations/shared/config"
)

// Load returns the configuration and AWS settings, or exits.
func Load(ctx context.Context) (config.Config, aws.Config) {
	cfg, err := config.FromEnv()
	Must(err)
	SetupLogging(cfg.LogLevel)
	awsCfg, err := awsclient.Load(ctx)
	Must(err)
	return cfg, awsCfg
}

// Must exits with the error logged; for cold-start wiring only.
func Must(err error) {
	if err != nil {
		slog.Error("cold start failed", "error", err.Error())
		os.Exit(1)
	}
}

// SetupLogging makes the default logger structured JSON at the given level.
func SetupLogging(level string) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})))
}
