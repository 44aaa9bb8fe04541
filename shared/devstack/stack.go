package devstack

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/uniasset/integrations/shared/adminapi"
	"github.com/uniasset/integrations/shared/config"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/httpapi"
	"github.com/uniasset/integrations/shared/integrationapi"
	"github.com/uniasset/integrations/shared/streamrouter"
	"github.com/uniasset/integrations/shared/tenant"
)

// Functions maps the template's HTTP function logical ids to their wiring:
// the same Build each Lambda's main passes to httpapi.LambdaMain.
var Functions = map[string]httpapi.Build{
	"IntegrationApiFunction": integrationapi.Build,
	"AdminApiFunction":       adminapi.Build,
}

// DemoTenants are seeded on every start, one per plan.
var DemoTenants = []tenant.Profile{
	{TenantID: "demo-enterprise", Name: "Demo Enterprise", Plan: tenant.Enterprise},
	{TenantID: "demo-growth", Name: "Demo Growth", Plan: tenant.Growth},
	{TenantID: "demo-starter", Name: "Demo Starter", Plan: tenant.Starter},
}

// Options configure Start.
type Options struct {
	Root      string            // repository root (template.yaml lives there)
	Endpoint  string            // AWS endpoint; empty starts moto on MotoPort
	MotoPort  int               // 0 picks a free port
	MotoLog   string            // where moto's output goes; empty discards it
	Prefix    string            // resource name prefix
	KeyPath   string            // local JWT signing key; default <Root>/.local/jwt.key
	Overrides map[string]string // function environment overrides
}

// Stack is a running local stack.
type Stack struct {
	Moto      *Moto
	AWS       aws.Config
	Template  *Template
	Resources Resources
	Env       map[string]string
	Config    config.Config
	DB        *dynamodb.Client
	Issuer    *Issuer
	Gateway   http.Handler
	// Dispatcher is the running DispatcherFunction handler (tests adjust its clock-free knobs).
	Dispatcher *delivery.Dispatcher

	stopPolling context.CancelFunc
	polling     sync.WaitGroup
}

// AWSConfig is an SDK configuration for a local endpoint (moto or LocalStack),
// with the dummy credentials they accept.
func AWSConfig(ctx context.Context, endpoint string) (aws.Config, error) {
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	return awsconfig.LoadDefaultConfig(ctx,
		awsconfig.WithRegion(region),
		awsconfig.WithBaseEndpoint(endpoint),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
	)
}

// Start brings the stack up: endpoint, resources, seed data, handlers, gateway.
func Start(ctx context.Context, o Options) (*Stack, error) {
	if o.Prefix == "" {
		o.Prefix = "uniasset-local"
	}
	if o.KeyPath == "" {
		o.KeyPath = filepath.Join(o.Root, ".local", "jwt.key")
	}
	s := &Stack{}
	if o.Endpoint == "" {
		m, err := StartMoto(ctx, o.MotoPort, o.MotoLog)
		if err != nil {
			return nil, err
		}
		s.Moto, o.Endpoint = m, m.Endpoint
	}
	fail := func(err error) (*Stack, error) { s.Close(); return nil, err }
	var err error
	if s.AWS, err = AWSConfig(ctx, o.Endpoint); err != nil {
		return fail(err)
	}
	if s.Template, err = LoadTemplate(filepath.Join(o.Root, "template.yaml")); err != nil {
		return fail(err)
	}
	if s.Resources, err = Create(ctx, s.AWS, s.Template, o.Prefix); err != nil {
		return fail(fmt.Errorf("creating resources at %s: %w", o.Endpoint, err))
	}
	if s.Env, err = s.Template.Environment(s.Resources, o.Overrides); err != nil {
		return fail(err)
	}
	if s.Config, err = config.FromMap(s.Env); err != nil {
		return fail(err)
	}
	s.DB = dynamodb.NewFromConfig(s.AWS)
	tenants := &tenant.Store{DB: s.DB, Table: s.Config.IntegrationsTable}
	for _, p := range DemoTenants {
		if err := tenants.Put(ctx, p); err != nil {
			return fail(fmt.Errorf("seeding %s: %w", p.TenantID, err))
		}
	}
	if s.Issuer, err = LoadIssuer(o.KeyPath); err != nil {
		return fail(err)
	}
	handlers := map[string]httpapi.LambdaHandler{}
	for fn, build := range Functions {
		h, err := build(ctx, s.Config, s.AWS)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", fn, err))
		}
		handlers[fn] = httpapi.Lambda(h)
	}
	if s.Gateway, err = NewGateway(s.Template.Routes(), handlers, s.Issuer); err != nil {
		return fail(err)
	}

	// The event-driven functions, driven as Lambda's event source mappings would.
	var pollCtx context.Context
	pollCtx, s.stopPolling = context.WithCancel(context.Background())
	router, err := streamrouter.Build(ctx, s.Config, s.AWS)
	if err != nil {
		return fail(err)
	}
	if err := pollStream(pollCtx, s.AWS, s.Config.AssetsTable, router.Handle); err != nil {
		return fail(fmt.Errorf("stream poller: %w", err))
	}
	if s.Dispatcher, err = delivery.BuildDispatcher(ctx, s.Config, s.AWS); err != nil {
		return fail(err)
	}
	queue := s.Resources["DeliveryQueue"]
	for range queuePollers {
		s.polling.Add(1)
		go func() {
			defer s.polling.Done()
			pollQueue(pollCtx, s.AWS, queue.URL, queue.ARN, s.Dispatcher.Handle)
		}()
	}
	return s, nil
}

// queuePollers is how many batches are dispatched at once (Lambda would scale out).
const queuePollers = 4

// Close stops the pollers, then moto if this stack started it.
func (s *Stack) Close() {
	if s == nil {
		return
	}
	if s.stopPolling != nil {
		s.stopPolling()
		s.polling.Wait()
	}
	if s.Moto != nil {
		s.Moto.Stop()
	}
}
