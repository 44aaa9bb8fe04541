package alert

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/uniasset/integrations/shared/apikey"
	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/config"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/shardmark"
	"github.com/uniasset/integrations/shared/tenant"
	"github.com/uniasset/integrations/shared/webhook"
)

// Build wires ExpiryAlertsFunction; its main and the local stack both
// call it. It never opens a sealed secret: the dispatcher signs.
func Build(ctx context.Context, cfg config.ExpiryAlerts, awsCfg aws.Config) (*Pass, error) {
	db := dynamodb.NewFromConfig(awsCfg)
	shardmark.Store{DB: db, Table: cfg.IntegrationsTable}.RaiseAtStart(ctx, shardmark.Deliveries, cfg.DeliveryShards)
	return NewPass(cfg, db, sqs.NewFromConfig(awsCfg)), nil
}

// NewPass is a pass over the given clients (the benchmark counts their
// calls), with the backfill of dates written before the index.
func NewPass(cfg config.ExpiryAlerts, db asset.ScanAPI, queue delivery.SQSAPI) *Pass {
	index := &Index{DB: db, Table: cfg.IntegrationsTable, Shards: IndexShards}
	settings := &SettingsStore{DB: db, Table: cfg.IntegrationsTable}
	hooks := Entitled{Subscriptions: &webhook.Store{DB: db, Table: cfg.IntegrationsTable, Retention: cfg.Retention},
		Plans: &tenant.Store{DB: db, Table: cfg.IntegrationsTable}}
	firer := &Firer{DB: db, Table: cfg.IntegrationsTable, Concurrency: prepareConcurrency,
		Deliveries: delivery.NewEnqueuer(db, queue, cfg.IntegrationsTable, cfg.DeliveryShards, cfg.DeliveryQueueURL, cfg.Retention)}
	retries := &Retries{DB: db, Table: cfg.IntegrationsTable}
	items := &asset.Items{DB: db, Table: cfg.AssetsTable}
	return &Pass{
		Index: index, Settings: settings, Items: items, Webhooks: hooks, Firer: firer, Retries: retries, Now: time.Now,
		Watermark:  Watermark{DB: db, Table: cfg.IntegrationsTable},
		KeyNotices: &apikey.Notices{DB: db, Table: cfg.IntegrationsTable, Retention: cfg.Retention},
		Backfill: &Backfill{
			DB: db, Items: &asset.Scanner{DB: db, Table: cfg.AssetsTable}, Table: cfg.IntegrationsTable, Webhooks: hooks,
			Arming: &Arming{Index: index, Settings: settings, Assets: items, Firer: firer, Retries: retries},
		},
	}
}

// prepareConcurrency bounds the delivery records one alert of a pass writes
// at once; the pass fires fireConcurrency alerts at once besides.
const prepareConcurrency = 4
