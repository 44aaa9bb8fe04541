// Package boot is what every Lambda does at cold start: read its function's
// configuration, set up JSON logging and load the AWS SDK configuration.
// Failing here is fatal: a function missing a setting never takes an event.
package boot

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/uniasset/integrations/shared/awsclient"
	"github.com/uniasset/integrations/shared/config"
	"github.com/uniasset/integrations/shared/httpapi"
	"github.com/uniasset/integrations/shared/metrics"
)

// Load fills cfg from the environment and returns the AWS settings, or exits.
func Load(ctx context.Context, cfg config.Function) aws.Config {
	SetupLogging(slog.LevelInfo) // so a configuration error is logged as JSON too
	Must(config.FromEnv(cfg))
	SetupLogging(config.LogLevelOf(cfg))
	metrics.SetStack(config.StackOf(cfg))
	awsCfg, err := awsclient.Load(ctx)
	Must(err)
	return awsCfg
}

// Build reads a function's configuration C from the environment and wires
// the function with it: the body of every main. It exits on any error, so a
// function missing a setting never takes an event.
func Build[C any, P interface {
	*C
	config.Function
}, F any](build func(context.Context, C, aws.Config) (F, error)) F {
	ctx := context.Background()
	var cfg C
	awsCfg := Load(ctx, P(&cfg))
	f, err := build(ctx, cfg, awsCfg)
	Must(err)
	return f
}

// Must exits with the error logged; for cold-start wiring only.
func Must(err error) {
	if err != nil {
		slog.Error("cold start failed", "error", err.Error())
		os.Exit(1)
	}
}

// SetupLogging makes the default logger structured JSON at the given level.
func SetupLogging(level slog.Level) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
}

// HTTP is the body of an HTTP function's main: read the function's
// configuration, build its handler once, at cold start, and adapt it to
// API Gateway's events for lambda.Start.
func HTTP[C any, P interface {
	*C
	config.Function
}](build func(context.Context, C, aws.Config) (http.Handler, error)) httpapi.LambdaHandler {
	return httpapi.Lambda(Build[C, P](build))
}
