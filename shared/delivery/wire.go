package delivery

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/uniasset/integrations/shared/config"
	"github.com/uniasset/integrations/shared/ratelimit"
	"github.com/uniasset/integrations/shared/safehttp"
	"github.com/uniasset/integrations/shared/sealing"
	"github.com/uniasset/integrations/shared/shardmark"
	"github.com/uniasset/integrations/shared/tenant"
	"github.com/uniasset/integrations/shared/webhook"
)

// Build wires DispatcherFunction; its main and the local stack both call it.
func Build(ctx context.Context, cfg config.Dispatcher, awsCfg aws.Config) (*Dispatcher, error) {
	sealer, err := sealing.Load(ctx, secretsmanager.NewFromConfig(awsCfg), cfg.AppKeySecretARN)
	if err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(awsCfg)
	marks := &shardmark.Store{DB: db, Table: cfg.IntegrationsTable}
	marks.RaiseAtStart(ctx, shardmark.Deliveries, cfg.DeliveryShards)
	store := &Store{DB: db, Table: cfg.IntegrationsTable, Shards: cfg.DeliveryShards, Retention: cfg.Retention}
	client := sqs.NewFromConfig(awsCfg)
	queue := &Queue{SQS: client, URL: cfg.DeliveryQueueURL}
	recoveries := &Recoveries{Store: store, Queue: queue, Now: time.Now, Concurrency: cfg.DispatchConcurrency, Marks: marks}
	return &Dispatcher{
		DeadLetters: &DeadLetters{SQS: client, URL: cfg.DeliveryDLQURL, Deliveries: store, Queue: queue, Recoveries: recoveries, Now: time.Now},
		Deliveries:  store,
		Webhooks:    &webhook.Store{DB: db, Table: cfg.IntegrationsTable, Sealer: sealer, Retention: cfg.Retention},
		Queue:       queue,
		Plans:       &tenant.Store{DB: db, Table: cfg.IntegrationsTable},
		Recoveries:  recoveries,
		Client:      safehttp.Policy{AllowPrivate: cfg.WebhookAllowPrivate}.Client(cfg.DeliveryTimeout),
		Timeout:     cfg.DeliveryTimeout,
		Schedule:    cfg.RetrySchedule,
		Now:         time.Now,
		Concurrency: cfg.DispatchConcurrency,
		HoldMax:     cfg.RetryHoldMax,
		Gate: &Gate{
			// Coalesced: a batch's messages to one webhook take their slots
			// in one or two writes, not one each.
			Limits:   &ratelimit.Table{DB: db, Table: cfg.IntegrationsTable, Coalesce: true},
			SendRate: cfg.SendRate, Timeout: cfg.DeliveryTimeout,
			EndpointSlots: cfg.SlowEndpointSlots, TenantSlots: cfg.SlowTenantSlots, SlowAfter: cfg.SlowAfter,
		},
		HookTTL: cfg.WebhookCacheTTL,
		Disable: webhook.DisableRule{After: cfg.AutoDisableAfter, Spacing: cfg.AutoDisableSpacing},
	}, nil
}
