package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/uniasset/integrations/shared/adminapi"
	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/awsclient"
	"github.com/uniasset/integrations/shared/config"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/entra"
	"github.com/uniasset/integrations/shared/graph/graphfake"
	"github.com/uniasset/integrations/shared/httpapi"
	"github.com/uniasset/integrations/shared/integrationapi"
	"github.com/uniasset/integrations/shared/streamrouter"
	"github.com/uniasset/integrations/shared/tenant"
)

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
	// AlertsEvery runs an expiry alerts pass this often, as the template's
	// schedule does (0: never; tests run passes themselves, as of chosen times).
	AlertsEvery time.Duration
	// EntraEvery fans out the Entra sync this often, as the template's
	// schedule does (0: never; "sync now" and tests queue jobs themselves).
	EntraEvery time.Duration
	// MicrosoftPageSize is the fake Microsoft's page size (0: Graph's 100).
	MicrosoftPageSize int
}

// LocalEntraClientID is the Entra app's client id on the local stack (the
// fake Microsoft accepts it; its secret is EntraClientSecret's value).
const LocalEntraClientID = "0c5a1e2f-3b4d-4e6f-8a9b-0c1d2e3f4a5b"

// Stack is a running local stack.
type Stack struct {
	Moto     *Moto
	Endpoint string
	// IsMoto: the endpoint is moto, and its IAM enforcement is on.
	IsMoto bool
	// AWS signs as the stack's own admin (what CloudFormation and a test
	// harness act as). Functions never use it: each has its Principal.
	AWS        aws.Config
	Principals map[string]Principal // by function logical id
	Template   *Template
	Resources  Resources
	// Env is each function's environment, resolved from the template as
	// CloudFormation would (Globals, then the function's own), overrides last.
	Env map[string]map[string]string
	// Config is each function's configuration, parsed from its Env by the
	// same config.Parse its Lambda runs at cold start.
	Config struct {
		IntegrationAPI config.IntegrationAPI
		AdminAPI       config.AdminAPI
		StreamRouter   config.StreamRouter
		Dispatcher     config.Dispatcher
		ExpiryAlerts   config.ExpiryAlerts
		EntraSync      config.EntraSync
	}
	AssetsTable, IntegrationsTable string           // physical names
	DB                             *dynamodb.Client // admin's
	// Handlers are the HTTP functions' handlers, by logical id, built by the
	// same Build their Lambda's main passes to httpapi.LambdaMain.
	Handlers map[string]http.Handler
	Issuer   *Issuer
	Gateway  http.Handler
	// Dispatcher is the running DispatcherFunction handler (tests adjust its clock-free knobs).
	Dispatcher *delivery.Dispatcher
	// Alerts is ExpiryAlertsFunction's handler, as its Lambda builds it.
	Alerts *alert.Pass
	// EntraSync is EntraSyncFunction's handler, as its Lambda builds it.
	EntraSync *entra.Function
	// Microsoft is the fake Microsoft (login and Graph) the Entra code talks
	// to, at MicrosoftURL, unless ENTRA_LOGIN_URL was overridden.
	Microsoft    *graphfake.Server
	MicrosoftURL string
	stopFake     func()

	adminARN    string
	catalog     *catalog // resource ARNs and key names for the local policy check
	stream      *StreamPoller
	pollCtx     context.Context
	stopPolling context.CancelFunc
	polling     sync.WaitGroup
}

// AWSConfig is an SDK configuration for a local endpoint (moto or LocalStack),
// with the dummy credentials they accept before IAM is enforced.
func AWSConfig(ctx context.Context, endpoint string) (aws.Config, error) {
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = localRegion
	}
	// Every principal shares this client. The SDK keeps 10 idle connections
	// per host; the stack has more calls in flight than that, and each new
	// connection costs moto a thread, so keep them all.
	client := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns, t.MaxIdleConnsPerHost = 512, 512
	})
	return awsclient.Load(ctx,
		awsconfig.WithRegion(region),
		awsconfig.WithBaseEndpoint(endpoint),
		awsconfig.WithHTTPClient(client),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
	)
}

// Start brings the stack up: endpoint, the stack's admin, resources, one IAM
// principal per function (moto then enforces IAM), seed data, handlers,
// gateway and the event-source pollers.
func Start(ctx context.Context, o Options) (*Stack, error) {
	if o.Prefix == "" {
		o.Prefix = "uniasset-local"
	}
	if o.KeyPath == "" {
		o.KeyPath = filepath.Join(o.Root, ".local", "jwt.key")
	}
	s := &Stack{}
	if o.Endpoint == "" {
		m, err := StartMoto(ctx, o.Root, o.MotoPort, o.MotoLog)
		if err != nil {
			return nil, err
		}
		s.Moto, o.Endpoint = m, m.Endpoint
	}
	s.Endpoint = o.Endpoint
	fail := func(err error) (*Stack, error) { s.Close(); return nil, err }
	var err error
	if s.Template, err = LoadTemplate(filepath.Join(o.Root, "template.yaml")); err != nil {
		return fail(err)
	}
	if err := s.createPrincipals(ctx, o.Prefix); err != nil {
		return fail(fmt.Errorf("IAM at %s: %w", o.Endpoint, err))
	}
	overrides := maps.Clone(o.Overrides)
	if overrides == nil {
		overrides = map[string]string{}
	}
	if overrides[config.EntraLoginURL.Name] == "" {
		if err := s.startMicrosoft(ctx, overrides, o.MicrosoftPageSize); err != nil {
			return fail(err)
		}
	}
	if err := s.configure(overrides); err != nil {
		return fail(err)
	}
	s.DB = dynamodb.NewFromConfig(s.AWS)
	tenants := &tenant.Store{DB: s.DB, Table: s.IntegrationsTable}
	for _, p := range DemoTenants {
		if err := tenants.Put(ctx, p); err != nil {
			return fail(fmt.Errorf("seeding %s: %w", p.TenantID, err))
		}
	}
	if s.Issuer, err = LoadIssuer(o.KeyPath); err != nil {
		return fail(err)
	}
	s.Handlers = map[string]http.Handler{}
	if s.Handlers["IntegrationApiFunction"], err = integrationapi.Build(ctx, s.Config.IntegrationAPI, s.Principals["IntegrationApiFunction"].AWS); err != nil {
		return fail(fmt.Errorf("IntegrationApiFunction: %w", err))
	}
	if s.Handlers["AdminApiFunction"], err = adminapi.Build(ctx, s.Config.AdminAPI, s.Principals["AdminApiFunction"].AWS); err != nil {
		return fail(fmt.Errorf("AdminApiFunction: %w", err))
	}
	handlers := map[string]httpapi.LambdaHandler{}
	for fn, h := range s.Handlers {
		handlers[fn] = httpapi.Lambda(h)
	}
	if s.Gateway, err = NewGateway(s.Template.Routes(), handlers, s.Issuer); err != nil {
		return fail(err)
	}
	if err := s.startPollers(ctx); err != nil {
		return fail(err)
	}
	if s.Alerts, err = alert.BuildPass(ctx, s.Config.ExpiryAlerts, s.Principals["ExpiryAlertsFunction"].AWS); err != nil {
		return fail(fmt.Errorf("ExpiryAlertsFunction: %w", err))
	}
	if o.AlertsEvery > 0 {
		s.polling.Add(1)
		go s.schedule("ExpiryAlertsFunction", o.AlertsEvery, func(ctx context.Context) error { return s.Alerts.Handle(ctx, nil) })
	}
	if o.EntraEvery > 0 {
		s.polling.Add(1)
		go s.schedule("EntraSyncFunction", o.EntraEvery, func(ctx context.Context) error { _, err := s.EntraSync.FanOut(ctx); return err })
	}
	return s, nil
}

// startMicrosoft serves the fake Microsoft on a free loopback port, with the
// demo directory's admin signed in to its consent page, and points the
// functions at it with the local app's client id. Its client secret is
// EntraClientSecret's value, read once the secret exists (see Start).
func (s *Stack) startMicrosoft(ctx context.Context, overrides map[string]string, pageSize int) error {
	s.Microsoft = graphfake.New()
	if pageSize > 0 {
		s.Microsoft.PageSize = pageSize
	}
	s.Microsoft.ClientID = LocalEntraClientID
	s.Microsoft.Admin = graphfake.Demo()
	var err error
	if s.MicrosoftURL, s.stopFake, err = s.Microsoft.Listen("127.0.0.1:0"); err != nil {
		return fmt.Errorf("fake Microsoft: %w", err)
	}
	overrides[config.EntraLoginURL.Name] = s.MicrosoftURL
	overrides[config.GraphURL.Name] = s.MicrosoftURL + "/v1.0"
	if overrides[config.EntraClientID.Name] == "" {
		overrides[config.EntraClientID.Name] = LocalEntraClientID
	}
	secret, err := awsclient.ReadSecret(ctx, secretsmanager.NewFromConfig(s.AWS), s.Resources["EntraClientSecret"].ARN)
	if err != nil {
		return fmt.Errorf("fake Microsoft: %w", err)
	}
	s.Microsoft.ClientSecret = secret
	return nil
}

// createPrincipals makes the stack's admin, the template's resources (as the
// admin, as CloudFormation would), and one execution role per function with
// exactly its template policy; then, on moto, turns IAM enforcement on.
// Against LocalStack the same principals are made; enforcing them is its call.
func (s *Stack) createPrincipals(ctx context.Context, prefix string) error {
	bootstrap, err := AWSConfig(ctx, s.Endpoint)
	if err != nil {
		return err
	}
	s.IsMoto = IsMoto(ctx, s.Endpoint)
	if s.IsMoto {
		// Off while the admin is made with the bootstrap credentials (another
		// stack may have turned it on for this server already).
		if err := setMotoAuth(ctx, s.Endpoint, false); err != nil {
			return err
		}
	}
	var adminCreds aws.Credentials
	s.adminARN, adminCreds, err = createAdmin(ctx, bootstrap, roleName(prefix, "stack-admin"))
	if err != nil {
		return fmt.Errorf("stack admin: %w", err)
	}
	if s.IsMoto {
		if err := setMotoAuth(ctx, s.Endpoint, true); err != nil {
			return err
		}
	}
	iso := isolationFor(s.Endpoint)
	s.AWS = withCredentials(bootstrap, adminCreds)
	s.AWS.APIOptions = append(s.AWS.APIOptions, iso.middleware, motoDenials)
	if s.Resources, err = Create(ctx, s.AWS, s.Template, prefix); err != nil {
		return fmt.Errorf("creating resources: %w", err)
	}
	if s.catalog, err = newCatalog(s.Template, s.Resources); err != nil {
		return err
	}
	s.Principals = map[string]Principal{}
	for _, fn := range s.Template.FunctionNames() {
		policy, err := s.Template.FunctionPolicy(fn, s.Resources)
		if err != nil {
			return err
		}
		p, err := s.NewPrincipal(ctx, roleName(prefix, fn), policy)
		if err != nil {
			return fmt.Errorf("%s: %w", fn, err)
		}
		s.Principals[fn] = p
	}
	return nil
}

// NewPrincipal makes an execution role holding policy and returns a
// principal signing as a session of it, with the local policy check and
// transaction isolation on every call. Tests use it to run a function with a
// policy that lacks something.
func (s *Stack) NewPrincipal(ctx context.Context, name string, policy Policy) (Principal, error) {
	arn, creds, err := createFunctionPrincipal(ctx, s.AWS, s.adminARN, name, policy, s.IsMoto)
	if err != nil {
		return Principal{}, err
	}
	calls := &Calls{}
	cfg := withCredentials(s.AWS, creds)
	// Clipped: principals must not share (and overwrite) the admin's backing array.
	cfg.APIOptions = append(slices.Clip(cfg.APIOptions), authorize(sessionARN(arn), policy, s.catalog), calls.middleware)
	return Principal{Name: name, ARN: arn, Policy: policy, AWS: cfg, Calls: calls, credentials: creds, base: s.AWS}, nil
}

// sessionARN is how AWS names a role's session in an AccessDenied message.
func sessionARN(roleARN string) string {
	i := strings.Index(roleARN, ":role/")
	if i < 0 {
		return roleARN
	}
	name := roleARN[i+len(":role/"):]
	return strings.Replace(roleARN[:i], ":iam:", ":sts:", 1) + ":assumed-role/" + name[strings.LastIndex(name, "/")+1:] + "/local"
}

// roleName is <prefix>-<name>, within IAM's 64 characters.
func roleName(prefix, name string) string {
	n := prefix + "-" + name
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}

// configure resolves each function's environment and parses its config, as
// each Lambda would at cold start: a variable the template forgets to give a
// function fails here.
func (s *Stack) configure(overrides map[string]string) error {
	s.Env = map[string]map[string]string{}
	configs := map[string]config.Function{
		"IntegrationApiFunction": &s.Config.IntegrationAPI,
		"AdminApiFunction":       &s.Config.AdminAPI,
		"StreamRouterFunction":   &s.Config.StreamRouter,
		"DispatcherFunction":     &s.Config.Dispatcher,
		"ExpiryAlertsFunction":   &s.Config.ExpiryAlerts,
		"EntraSyncFunction":      &s.Config.EntraSync,
	}
	for fn := range config.Functions {
		if configs[fn] == nil {
			return fmt.Errorf("the local stack does not run %s (config.Functions names it)", fn)
		}
	}
	for fn := range configs {
		env, err := s.Template.Environment(fn, s.Resources, overrides)
		if err != nil {
			return err
		}
		if err := config.Parse(config.Map(env), configs[fn]); err != nil {
			return fmt.Errorf("%s: %w", fn, err)
		}
		s.Env[fn] = env
	}
	s.AssetsTable, s.IntegrationsTable = s.Resources["AssetsTable"].Name, s.Resources["IntegrationsTable"].Name
	return nil
}

// startPollers drives the event-driven functions as Lambda's event source
// mappings would, each with its function's own credentials.
func (s *Stack) startPollers(ctx context.Context) error {
	s.pollCtx, s.stopPolling = context.WithCancel(context.Background())
	pollCtx := s.pollCtx
	router, err := streamrouter.Build(ctx, s.Config.StreamRouter, s.Principals["StreamRouterFunction"].AWS)
	if err != nil {
		return err
	}
	src, err := s.Template.StreamSource("StreamRouterFunction", s.Resources)
	if err != nil {
		return err
	}
	if s.stream, err = PollStream(pollCtx, s.Principals["StreamRouterFunction"].AWS, src, Timed("StreamRouterFunction", s.Template.Timeout("StreamRouterFunction"), router.Handle)); err != nil {
		return fmt.Errorf("stream poller: %w", err)
	}
	if s.Dispatcher, err = delivery.BuildDispatcher(ctx, s.Config.Dispatcher, s.Principals["DispatcherFunction"].AWS); err != nil {
		return err
	}
	queue := s.Resources["DeliveryQueue"]
	for range queuePollers {
		s.polling.Add(1)
		go func() {
			defer s.polling.Done()
			PollQueue(pollCtx, s.Principals["DispatcherFunction"].AWS, queue.URL, queue.ARN, Timed("DispatcherFunction", s.Template.Timeout("DispatcherFunction"), s.Dispatcher.Handle))
		}()
	}
	if s.EntraSync, err = entra.BuildFunction(ctx, s.Config.EntraSync, s.Principals["EntraSyncFunction"].AWS); err != nil {
		return fmt.Errorf("EntraSyncFunction: %w", err)
	}
	jobs := s.Resources["EntraSyncQueue"]
	s.polling.Add(1)
	go func() {
		defer s.polling.Done()
		PollQueue(pollCtx, s.Principals["EntraSyncFunction"].AWS, jobs.URL, jobs.ARN, Timed("EntraSyncFunction", s.Template.Timeout("EntraSyncFunction"), s.EntraSync.HandleSQS))
	}()
	return nil
}

// schedule runs fn's tick every interval, as EventBridge Scheduler would,
// until the stack closes, each run within fn's Timeout; a failed tick is
// logged (on AWS: retried, then the function's DLQ). The first runs at once:
// for alerts it sets the watermark, so a pass as of a later time
// (`alerts --at`) covers everything from now.
func (s *Stack) schedule(fn string, every time.Duration, tick func(context.Context) error) {
	defer s.polling.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	run := Timed(fn, s.Template.Timeout(fn), func(ctx context.Context, _ struct{}) (struct{}, error) { return struct{}{}, tick(ctx) })
	for {
		if _, err := run(s.pollCtx, struct{}{}); err != nil && s.pollCtx.Err() == nil {
			slog.Error("scheduled run failed; the next tick tries again", "error", err.Error())
		}
		select {
		case <-s.pollCtx.Done():
			return
		case <-t.C:
		}
	}
}

// StreamCaughtUp waits until StreamRouterFunction has handled every change
// written to AssetsTable before the call: with the delivery records that
// exist then, a test knows everything that will ever be sent for them.
func (s *Stack) StreamCaughtUp(ctx context.Context) error { return s.stream.CaughtUp(ctx) }

// queuePollers is how many batches are dispatched at once (Lambda would scale out).
const queuePollers = 4

// Close stops the pollers, then moto if this stack started it.
func (s *Stack) Close() {
	if s == nil {
		return
	}
	s.StopPollers()
	if s.stopFake != nil {
		s.stopFake()
	}
	if s.Moto != nil {
		s.Moto.Stop()
	}
}

// StopPollers stops the event-source pollers and the alert schedule, so a
// benchmark can seed the tables directly and drive a function itself.
func (s *Stack) StopPollers() {
	if s.stopPolling != nil {
		s.stopPolling()
		s.polling.Wait()
	}
}
