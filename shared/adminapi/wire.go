package adminapi

import (
	"context"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/uniasset/integrations/shared/activity"
	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/apikey"
	"github.com/uniasset/integrations/shared/config"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/entra"
	"github.com/uniasset/integrations/shared/ratelimit"
	"github.com/uniasset/integrations/shared/safehttp"
	"github.com/uniasset/integrations/shared/sealing"
	"github.com/uniasset/integrations/shared/shardmark"
	"github.com/uniasset/integrations/shared/tenant"
	"github.com/uniasset/integrations/shared/webhook"
)

// Build is the function's wiring, shared by its Lambda main and the local
// stack. It reads the sealing key once, at cold start.
func Build(ctx context.Context, cfg config.AdminAPI, awsCfg aws.Config) (http.Handler, error) {
	db := dynamodb.NewFromConfig(awsCfg)
	sealer, err := sealing.Load(ctx, secretsmanager.NewFromConfig(awsCfg), cfg.AppKeySecretARN)
	if err != nil {
		return nil, err
	}
	microsoft, err := entra.LoadMicrosoft(ctx, secretsmanager.NewFromConfig(awsCfg), cfg.Entra)
	if err != nil {
		return nil, err
	}
	shardmark.Store{DB: db, Table: cfg.IntegrationsTable}.RaiseAtStart(ctx, shardmark.Deliveries, cfg.DeliveryShards)
	api := New(cfg, db, sealer, sqs.NewFromConfig(awsCfg), microsoft)
	if api.ScanningKeys, err = apikey.ParseScanningKeys(cfg.SecretScanningKeys); err != nil {
		return nil, err
	}
	return api.Handler(), nil
}

// Queue is the SQS calls the admin API makes: test events and sync jobs.
type Queue interface {
	delivery.SQSAPI
	entra.SQSAPI
}

// New wires the API from its dependencies.
func New(cfg config.AdminAPI, db dynamo.API, sealer *sealing.Sealer, queue Queue, microsoft *entra.Microsoft) *API {
	store := &entra.Store{DB: db, Table: cfg.IntegrationsTable, Index: entra.Index, Retention: cfg.Retention}
	enqueuer := delivery.NewEnqueuer(db, queue, cfg.IntegrationsTable, cfg.DeliveryShards, cfg.DeliveryQueueURL, cfg.Retention)
	return &API{
		Entra: Entra{
			Store:     store,
			Consent:   &entra.Consent{Store: store, Microsoft: microsoft, TTL: consentTTL, Now: time.Now},
			Jobs:      &entra.Jobs{SQS: queue, URL: cfg.Entra.SyncQueueURL},
			ReturnURL: cfg.EntraReturnURL,
		},
		Tenants: &tenant.Store{DB: db, Table: cfg.IntegrationsTable},
		Keys: &apikey.Service{
			Store: &apikey.Store{DB: db, Table: cfg.IntegrationsTable, Retention: cfg.Retention}, BcryptCost: cfg.BcryptCost,
			AcceptLegacy: cfg.AcceptLegacyKeys,
		},
		Webhooks:   &webhook.Store{DB: db, Table: cfg.IntegrationsTable, Sealer: sealer, Retention: cfg.Retention},
		Enqueuer:   enqueuer,
		Recoveries: &delivery.Recoveries{Store: enqueuer.Store, Queue: enqueuer.Queue, Now: time.Now},
		URLPolicy:  safehttp.Policy{AllowPrivate: cfg.WebhookAllowPrivate},
		Challenger: safehttp.Policy{AllowPrivate: cfg.WebhookAllowPrivate}.Client(delivery.ChallengeTimeout),
		Activity: &activity.Reader{DB: db, Table: cfg.IntegrationsTable, APILogShards: cfg.APILogShards, DeliveryShards: cfg.DeliveryShards,
			Marks: &shardmark.Store{DB: db, Table: cfg.IntegrationsTable}},
		Alerts:  &alert.SettingsStore{DB: db, Table: cfg.IntegrationsTable},
		Limiter: &ratelimit.Table{DB: db, Table: cfg.IntegrationsTable},
		TestEvents: ratelimit.Limit{Every: time.Minute / time.Duration(max(cfg.TestEventsPerMinute, 1)),
			Burst: max(cfg.TestEventsPerMinute, 1), Shards: 1},
		Resends: ratelimit.Limit{Every: time.Minute / time.Duration(max(cfg.ResendsPerMinute, 1)),
			Burst: max(cfg.ResendsPerMinute, 1), Shards: 1},
		RetrySpan: span(cfg.RetrySchedule),
		Now:       time.Now,
		PublicURL: cfg.PublicAPIURL, Region: cfg.Region,
	}
}

// span is the sum of a retry schedule's waits.
func span(schedule []time.Duration) time.Duration {
	var total time.Duration
	for _, d := range schedule {
		total += d
	}
	return total
}
