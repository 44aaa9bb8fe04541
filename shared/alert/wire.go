package alert

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/uniasset/integrations/shared/config"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/webhook"
)

// BuildPass wires ExpiryAlertsFunction; its main and the local stack both
// call it. It never opens a sealed secret: the dispatcher signs.
func BuildPass(_ context.Context, cfg config.ExpiryAlerts, awsCfg aws.Config) (*Pass, error) {
	return NewPass(cfg, dynamodb.NewFromConfig(awsCfg), sqs.NewFromConfig(awsCfg)), nil
}

// NewPass is a pass over the given clients (the benchmark counts their calls).
func NewPass(cfg config.ExpiryAlerts, db dynamo.API, queue delivery.SQSAPI) *Pass {
	return &Pass{
		Index:    &Index{DB: db, Table: cfg.IntegrationsTable, Shards: IndexShards},
		Settings: &SettingsStore{DB: db, Table: cfg.IntegrationsTable},
		Items:    db, Assets: cfg.AssetsTable,
		Webhooks: &webhook.Store{DB: db, Table: cfg.IntegrationsTable},
		Firer:    &Firer{DB: db, Table: cfg.IntegrationsTable, Deliveries: delivery.NewEnqueuer(db, queue, cfg.IntegrationsTable, cfg.DeliveryShards, cfg.DeliveryQueueURL)},
		Now:      time.Now,
	}
}
