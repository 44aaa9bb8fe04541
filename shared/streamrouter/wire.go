package streamrouter

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/config"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/shardmark"
	"github.com/uniasset/integrations/shared/tenant"
	"github.com/uniasset/integrations/shared/webhook"
)

// Build wires StreamRouterFunction; its main and the local stack both call it.
// The router never opens sealed secrets, so it needs no sealing key.
func Build(ctx context.Context, cfg config.StreamRouter, awsCfg aws.Config) (*Router, error) {
	db := dynamodb.NewFromConfig(awsCfg)
	shardmark.Store{DB: db, Table: cfg.IntegrationsTable}.RaiseAtStart(ctx, shardmark.Deliveries, cfg.DeliveryShards)
	queue := sqs.NewFromConfig(awsCfg)
	enqueuer := delivery.NewEnqueuer(db, queue, cfg.IntegrationsTable, cfg.DeliveryShards, cfg.DeliveryQueueURL, cfg.Retention)
	r := &Router{
		Webhooks: alert.Entitled{Subscriptions: &webhook.Store{DB: db, Table: cfg.IntegrationsTable, Retention: cfg.Retention},
			Plans: &tenant.Store{DB: db, Table: cfg.IntegrationsTable}},
		Enqueuer: enqueuer,
		Assets:   &asset.Items{DB: db, Table: cfg.AssetsTable},
		Alerts: &alert.Arming{
			Index:    &alert.Index{DB: db, Table: cfg.IntegrationsTable, Shards: alert.IndexShards},
			Settings: &alert.SettingsStore{DB: db, Table: cfg.IntegrationsTable},
			Assets:   &asset.Items{DB: db, Table: cfg.AssetsTable},
			Firer:    &alert.Firer{DB: db, Table: cfg.IntegrationsTable, Deliveries: enqueuer, Concurrency: cfg.RouterConcurrency},
			Retries:  &alert.Retries{DB: db, Table: cfg.IntegrationsTable},
		},
		Now:         time.Now,
		Concurrency: cfg.RouterConcurrency,
	}
	r.Redrive = &Redrive{SQS: queue, URL: cfg.StreamDLQURL, Streams: dynamodbstreams.NewFromConfig(awsCfg), Route: r.Handle}
	return r, nil
}
