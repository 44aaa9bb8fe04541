package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/uniasset/integrations/shared/awsclient"
	"github.com/uniasset/integrations/shared/config"
	"github.com/uniasset/integrations/shared/dynamo"
)

// Build is how an HTTP function turns configuration into its handler.
type Build func(cfg config.Config, db dynamo.API) http.Handler

// LambdaMain is the body of an HTTP function's main: read config, build the
// handler once (at cold start), and return what lambda.Start receives.
func LambdaMain(build Build) LambdaHandler {
	cfg, err := config.FromEnv()
	if err != nil {
		slog.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	SetupLogging(cfg.LogLevel)
	awsCfg, err := awsclient.Load(context.Background())
	if err != nil {
		slog.Error("aws configuration", "error", err.Error())
		os.Exit(1)
	}
	return Lambda(build(cfg, dynamodb.NewFromConfig(awsCfg)))
}

// SetupLogging makes the default logger structured JSON at the given level.
func SetupLogging(level string) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})))
}
