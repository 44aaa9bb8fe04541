package entra

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/uniasset/integrations/shared/awsclient"
	"github.com/uniasset/integrations/shared/config"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/msgraph"
	"github.com/uniasset/integrations/shared/tenant"
)

// Index is IntegrationsTable's ByResource GSI.
const Index = keyschema.ByResource

// SyncTimeout is EntraSyncFunction's timeout in template.yaml; a sync's
// lease outlasts it by a minute, so a sync that died frees the tenant soon.
const SyncTimeout = 15 * time.Minute

// graphTimeout bounds one HTTP exchange with Microsoft.
const graphTimeout = 30 * time.Second

// NewMicrosoft is the app as cfg and its secret describe it.
func NewMicrosoft(cfg config.Entra, secret string) *Microsoft {
	return &Microsoft{
		Tokens: &msgraph.Tokens{
			App:  msgraph.App{ClientID: cfg.ClientID, ClientSecret: secret, LoginURL: cfg.LoginURL},
			Base: &http.Client{Timeout: graphTimeout},
		},
		GraphURL: cfg.GraphURL,
	}
}

// LoadMicrosoft reads the app's client secret from Secrets Manager (once, at
// cold start) and returns the app.
func LoadMicrosoft(ctx context.Context, sm awsclient.Secrets, cfg config.Entra) (*Microsoft, error) {
	secret, err := awsclient.ReadSecret(ctx, sm, cfg.ClientSecretARN)
	if err != nil {
		return nil, fmt.Errorf("entra: the client secret: %w", err)
	}
	return NewMicrosoft(cfg, secret), nil
}

// Build wires EntraSyncFunction; its main and the local stack both call it.
func Build(ctx context.Context, cfg config.EntraSync, awsCfg aws.Config) (*Function, error) {
	microsoft, err := LoadMicrosoft(ctx, secretsmanager.NewFromConfig(awsCfg), cfg.Entra)
	if err != nil {
		return nil, err
	}
	return NewFunction(cfg, dynamodb.NewFromConfig(awsCfg), sqs.NewFromConfig(awsCfg), microsoft), nil
}

// NewFunction is the function over the given clients (the benchmark counts their calls).
func NewFunction(cfg config.EntraSync, db dynamo.API, queue SQSAPI, microsoft *Microsoft) *Function {
	store := &Store{DB: db, Table: cfg.IntegrationsTable, Index: Index, Retention: cfg.Retention}
	return &Function{
		Syncer: &Syncer{Store: store, Microsoft: microsoft, Now: time.Now, LeaseFor: SyncTimeout + time.Minute, GroupReads: 4,
			Plans: &tenant.Store{DB: db, Table: cfg.IntegrationsTable}},
		Jobs: &Jobs{SQS: queue, URL: cfg.Entra.SyncQueueURL},
	}
}
