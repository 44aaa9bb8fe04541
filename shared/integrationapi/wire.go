package integrationapi

import (
	"context"

	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/uniasset/integrations/shared/apikey"
	"github.com/uniasset/integrations/shared/apilog"
	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/config"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/idempotency"
	"github.com/uniasset/integrations/shared/ratelimit"
	"github.com/uniasset/integrations/shared/shardmark"
)

// Build is the function's wiring, shared by its Lambda main and the local stack.
func Build(ctx context.Context, cfg config.IntegrationAPI, awsCfg aws.Config) (http.Handler, error) {
	db := dynamodb.NewFromConfig(awsCfg)
	shardmark.Store{DB: db, Table: cfg.IntegrationsTable}.RaiseAtStart(ctx, shardmark.APILog, cfg.APILogShards)
	return New(cfg, db).Handler(), nil
}

// New wires the API from configuration; the Lambda and the local stack both call it.
func New(cfg config.IntegrationAPI, db dynamo.API) *API {
	return &API{
		Keys: &apikey.Service{
			Store:            &apikey.Store{DB: db, Table: cfg.IntegrationsTable},
			LastUsedInterval: cfg.LastUsedInterval, Cache: apikey.NewCache(cfg.KeyCacheSize, cfg.KeyCacheTTL),
			Sources: apikey.NewSources(cfg.KeyLookupsPerSource), AcceptLegacy: cfg.AcceptLegacyKeys,
		},
		Assets:      &asset.Store{DB: db, Table: cfg.AssetsTable},
		Idempotency: &idempotency.Store{DB: db, Table: cfg.IntegrationsTable, TTL: cfg.IdempotencyTTL},
		Log:         &apilog.Writer{DB: db, Table: cfg.IntegrationsTable, Shards: cfg.APILogShards, Retention: cfg.Retention},
		Now:         time.Now,
		Limiter:     &ratelimit.Table{DB: db, Table: cfg.IntegrationsTable},
		Rate:        cfg.APIRateLimit, Burst: cfg.APIRateBurst,
	}
}
