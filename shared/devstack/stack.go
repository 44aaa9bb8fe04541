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
	"github.com/aws/smithy-go/middleware"

	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/awsclient"
	"github.com/uniasset/integrations/shared/config"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/entra"
	"github.com/uniasset/integrations/shared/httpapi"
	"github.com/uniasset/integrations/shared/lambdas"
	"github.com/uniasset/integrations/shared/msgraph/msgraphfake"
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
	// Schedules runs a function's scheduled event this often, by logical id,
	// as EventBridge Scheduler runs the template's (a function not listed
	// runs none: tests make alert passes themselves, as of chosen times, and
	// queue Entra syncs themselves).
	Schedules map[string]time.Duration
	// MicrosoftPageSize is the fake Microsoft's page size (0: Graph's 100).
	MicrosoftPageSize int
	// APIOptions go on every function's AWS clients, the event source
	// pollers' included (the cost bench's meters).
	APIOptions []func(*middleware.Stack) error
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
	// Usage is each function's invocations and the time they took: what
	// Lambda bills (requests, and duration times memory).
	Usage      *Usage
	apiOptions []func(*middleware.Stack) error
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
	// Configs is each function's configuration, by logical id (Config is
	// the same, typed).
	Configs map[string]config.Function
	// Wired is each function's entry points, built by the registry's Build,
	// the same its Lambda's main calls.
	Wired map[string]lambdas.Handlers
	// Handlers are the HTTP functions' handlers, by logical id.
	Handlers map[string]http.Handler
	Issuer   *Issuer
	Gateway  http.Handler
	// Dispatcher is the running DispatcherFunction handler (tests adjust its clock-free knobs).
	Dispatcher *delivery.Dispatcher
	// Alerts is ExpiryAlertsFunction's handler, as its Lambda builds it.
	Alerts *alert.Pass
	// Router is StreamRouterFunction's handler (its StreamDLQ sweep).
	Router *streamrouter.Router
	// EntraSync is EntraSyncFunction's handler, as its Lambda builds it.
	EntraSync *entra.Function
	// Microsoft is the fake Microsoft (login and Graph) the Entra code talks
	// to, at MicrosoftURL, unless ENTRA_LOGIN_URL was overridden.
	Microsoft    *msgraphfake.Server
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
	s := &Stack{Usage: &Usage{}, apiOptions: o.APIOptions}
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
	if err := s.build(ctx); err != nil {
		return fail(err)
	}
	handlers := map[string]httpapi.LambdaHandler{}
	for fn, h := range s.Handlers {
		handlers[fn] = httpapi.Lambda(h)
	}
	gw, err := NewGateway(s.Template.Routes(), handlers, s.Issuer)
	if err != nil {
		return fail(err)
	}
	gw.Usage = s.Usage
	s.Gateway = gw
	if err := s.startPollers(o.Schedules); err != nil {
		return fail(err)
	}
	return s, nil
}

// startMicrosoft serves the fake Microsoft on a free loopback port, with the
// demo directory's admin signed in to its consent page, and points the
// functions at it with the local app's client id. Its client secret is
// EntraClientSecret's value, read once the secret exists (see Start).
func (s *Stack) startMicrosoft(ctx context.Context, overrides map[string]string, pageSize int) error {
	s.Microsoft = msgraphfake.New()
	if pageSize > 0 {
		s.Microsoft.PageSize = pageSize
	}
	s.Microsoft.ClientID = LocalEntraClientID
	s.Microsoft.Admin = msgraphfake.Demo()
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
	cfg.APIOptions = append(cfg.APIOptions, s.apiOptions...)
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
	s.Configs = map[string]config.Function{}
	for _, f := range lambdas.All {
		env, err := s.Template.Environment(f.ID, s.Resources, overrides)
		if err != nil {
			return err
		}
		cfg := f.Config()
		if err := config.Parse(config.Map(env), cfg); err != nil {
			return fmt.Errorf("%s: %w", f.ID, err)
		}
		s.Env[f.ID], s.Configs[f.ID] = env, cfg
		switch c := cfg.(type) { // the typed view tests use
		case *config.IntegrationAPI:
			s.Config.IntegrationAPI = *c
		case *config.AdminAPI:
			s.Config.AdminAPI = *c
		case *config.StreamRouter:
			s.Config.StreamRouter = *c
		case *config.Dispatcher:
			s.Config.Dispatcher = *c
		case *config.ExpiryAlerts:
			s.Config.ExpiryAlerts = *c
		case *config.EntraSync:
			s.Config.EntraSync = *c
		}
	}
	s.AssetsTable, s.IntegrationsTable = s.Resources["AssetsTable"].Name, s.Resources["IntegrationsTable"].Name
	return nil
}

// build wires every function of the registry as its Lambda's main does,
// each with its own credentials and configuration.
func (s *Stack) build(ctx context.Context) error {
	s.Handlers, s.Wired = map[string]http.Handler{}, map[string]lambdas.Handlers{}
	for _, f := range lambdas.All {
		h, err := f.Build(ctx, s.Configs[f.ID], s.Principals[f.ID].AWS)
		if err != nil {
			return fmt.Errorf("%s: %w", f.ID, err)
		}
		s.Wired[f.ID] = h
		if h.HTTP != nil {
			s.Handlers[f.ID] = h.HTTP
		}
		switch w := h.Wired.(type) { // the typed view tests use
		case *delivery.Dispatcher:
			s.Dispatcher = w
		case *alert.Pass:
			s.Alerts = w
		case *streamrouter.Router:
			s.Router = w
		case *entra.Function:
			s.EntraSync = w
		}
	}
	return nil
}

// startPollers drives the event-driven functions as Lambda's event source
// mappings and EventBridge Scheduler would: every DynamoDB and SQS event of
// every function in the template, and the schedules asked for, each
// invocation within the function's Timeout and with its own credentials.
func (s *Stack) startPollers(schedules map[string]time.Duration) error {
	s.pollCtx, s.stopPolling = context.WithCancel(context.Background())
	pollCtx := s.pollCtx
	for _, f := range lambdas.All {
		h, creds, limit := s.Wired[f.ID], s.Principals[f.ID].AWS, s.Template.Timeout(f.ID)
		for _, ev := range s.Template.Events(f.ID) {
			switch ev.Type {
			case "HttpApi": // the gateway's
				if h.HTTP == nil {
					return fmt.Errorf("%s has HttpApi events and no HTTP handler", f.ID)
				}
			case "DynamoDB":
				if h.Stream == nil {
					return fmt.Errorf("%s has a DynamoDB event and no stream handler", f.ID)
				}
				if s.stream != nil {
					return fmt.Errorf("%s: the local stack polls one stream", f.ID)
				}
				src, err := s.Template.StreamSource(f.ID, s.Resources)
				if err != nil {
					return err
				}
				if s.stream, err = PollStream(pollCtx, creds, src, timed(s.Usage, f.ID, limit, h.Stream)); err != nil {
					return fmt.Errorf("%s: stream poller: %w", f.ID, err)
				}
			case "SQS":
				if h.Queue == nil {
					return fmt.Errorf("%s has an SQS event and no queue handler", f.ID)
				}
				queue, err := s.Template.EventQueue(ev, s.Resources)
				if err != nil {
					return fmt.Errorf("%s: %w", f.ID, err)
				}
				for range queuePollers(ev) {
					s.polling.Add(1)
					go func() {
						defer s.polling.Done()
						PollQueue(pollCtx, creds, queue.URL, queue.ARN, timed(s.Usage, f.ID, limit, h.Queue))
					}()
				}
			case "ScheduleV2":
				if h.Schedule == nil {
					return fmt.Errorf("%s has a schedule and no scheduled handler", f.ID)
				}
				if every := schedules[f.ID]; every > 0 {
					s.polling.Add(1)
					go s.schedule(f.ID, every, h.Schedule)
				}
			default:
				return fmt.Errorf("%s: the local stack does not run %s events", f.ID, ev.Type)
			}
		}
	}
	for fn := range schedules {
		if !slices.ContainsFunc(s.Template.Events(fn), func(e Event) bool { return e.Type == "ScheduleV2" }) {
			return fmt.Errorf("a schedule was asked for %s, which has none in the template", fn)
		}
	}
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
	run := timed(s.Usage, fn, s.Template.Timeout(fn), func(ctx context.Context, _ struct{}) (struct{}, error) { return struct{}{}, tick(ctx) })
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

// queuePollers is how many batches of an SQS event are handled at once:
// Lambda scales out up to the event's MaximumConcurrency; here at most 4
// (moto's one core would not go faster), and 1 without the setting.
func queuePollers(ev Event) int {
	scaling, _ := ev.Properties["ScalingConfig"].(map[string]any)
	if n, ok := scaling["MaximumConcurrency"].(int); ok && n > 1 {
		return min(n, 4)
	}
	return 1
}

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

// WriteAWSEnv writes, to path (mode 0600), a shell file that sets the AWS
// CLI to this stack: its admin's credentials (the ones its resources were
// made with; they exist only while it runs), endpoint and region, and the
// names of its tables and the URL of its delivery queue. `source` it, and `aws dynamodb scan --table-name
// $INTEGRATIONS_TABLE` reads the local table.
func (s *Stack) WriteAWSEnv(ctx context.Context, path string) error {
	creds, err := s.AWS.Credentials.Retrieve(ctx)
	if err != nil {
		return err
	}
	vars := [][2]string{
		{"AWS_ACCESS_KEY_ID", creds.AccessKeyID}, {"AWS_SECRET_ACCESS_KEY", creds.SecretAccessKey}, {"AWS_SESSION_TOKEN", creds.SessionToken},
		{"AWS_REGION", s.AWS.Region}, {"AWS_DEFAULT_REGION", s.AWS.Region}, {"AWS_ENDPOINT_URL", s.Endpoint}, {"AWS_PAGER", ""},
		{"ASSETS_TABLE", s.AssetsTable}, {"INTEGRATIONS_TABLE", s.IntegrationsTable},
		{"DELIVERY_QUEUE", s.Resources["DeliveryQueue"].URL},
	}
	var b strings.Builder
	b.WriteString("# The local stack's admin for the AWS CLI (written by make run; valid while it runs).\n")
	for _, v := range vars {
		if v[1] != "" || v[0] == "AWS_PAGER" {
			fmt.Fprintf(&b, "export %s='%s'\n", v[0], strings.ReplaceAll(v[1], "'", `'\''`))
		} else {
			fmt.Fprintf(&b, "unset %s\n", v[0])
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}
