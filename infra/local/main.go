// Command local runs the whole system on one machine (make run), prints a
// local admin token (go run ./infra/local token --tenant <id> --role <role>),
// asks the running system for an expiry alerts pass as of a chosen time
// (go run ./infra/local alerts --at 2026-12-01T09:00:00Z), or for the sweeps
// of the dead-letter queues now (go run ./infra/local sweep), or runs a
// webhook receiver that prints and verifies each delivery (go run
// ./infra/local receiver --secret whsec_…).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/boot"
	"github.com/uniasset/integrations/shared/config"
	"github.com/uniasset/integrations/shared/devstack"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/msgraph/msgraphfake"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "token":
		err = token(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "alerts":
		err = alerts(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "sweep":
		err = sweep(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "receiver":
		err = receiver(ctx, os.Args[2:])
	default:
		err = run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// root finds the repository: the nearest directory holding template.yaml.
func root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "template.yaml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("template.yaml not found in this directory or any parent")
		}
		dir = parent
	}
}

func token(args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	tenantID := fs.String("tenant", "demo-enterprise", "tenant id (tenant_id claim)")
	role := fs.String("role", "Owner", "Owner | Admin | Manager | Member | Viewer")
	sub := fs.String("sub", "local-user", "user id (sub claim)")
	ttl := fs.Duration("ttl", 12*time.Hour, "token lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := root()
	if err != nil {
		return err
	}
	issuer, err := devstack.LoadIssuer(filepath.Join(dir, ".local", "jwt.key"))
	if err != nil {
		return err
	}
	tok, err := issuer.Token(*tenantID, *role, *sub, *ttl)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}

func run(ctx context.Context) error {
	boot.SetupLogging(slog.LevelInfo) // until the functions' own LOG_LEVEL is read
	dir, err := root()
	if err != nil {
		return err
	}
	port := envOr("PORT", "3000")
	if _, err := strconv.Atoi(port); err != nil {
		return fmt.Errorf("PORT must be a number, got %q", port)
	}
	opts := devstack.Options{Root: dir, Endpoint: os.Getenv("AWS_ENDPOINT_URL"), MotoPort: 4566,
		MotoLog: filepath.Join(dir, ".local", "moto.log"), Overrides: map[string]string{},
		// Alerts more often than the template's 15 minutes, to see them; the
		// template's 15-minute Entra schedule.
		// The dead-letter sweeps every minute rather than 15, to see them.
		Schedules: map[string]time.Duration{"ExpiryAlertsFunction": alertsEvery, "EntraSyncFunction": 15 * time.Minute,
			"DispatcherFunction": time.Minute, "StreamRouterFunction": time.Minute},
		// The fake Microsoft serves pages of 10 so its demo directory (30
		// users) takes several.
		MicrosoftPageSize: 10}
	if err := os.MkdirAll(filepath.Join(dir, ".local"), 0o700); err != nil {
		return err
	}
	// Settings the functions read can be overridden from the shell, e.g.
	// LOG_LEVEL=DEBUG (README's settings table marks which: ‡). The Developer
	// Guide shows this stack's own address, never a request's Host header.
	opts.Overrides[config.PublicAPIURL.Name] = "http://127.0.0.1:" + port
	for _, v := range config.Vars {
		if s, ok := os.LookupEnv(v.Name); ok && v.Shell {
			opts.Overrides[v.Name] = s
		}
	}
	endpoint := opts.Endpoint
	if endpoint == "" {
		endpoint = "moto_server on http://127.0.0.1:4566 (started here; log in .local/moto.log)"
	}
	fmt.Printf("AWS endpoint: %s\n", endpoint)
	stack, err := devstack.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer stack.Close()
	boot.SetupLogging(stack.Config.IntegrationAPI.LogLevel)

	// The gateway, and a local-only route that runs an alerts pass on demand
	// (`go run ./infra/local alerts --at …`); it is not in the template.
	mux := http.NewServeMux()
	mux.Handle("/", stack.Gateway)
	mux.HandleFunc("POST "+alertsPath, func(w http.ResponseWriter, r *http.Request) { runAlerts(w, r, stack) })
	mux.HandleFunc("POST "+sweepPath, func(w http.ResponseWriter, r *http.Request) { runSweeps(w, r, stack) })
	srv := devstack.GatewayServer("127.0.0.1:"+port, mux)
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()

	fmt.Printf("Tables: %s, %s\n", stack.AssetsTable, stack.IntegrationsTable)
	envFile := filepath.Join(dir, ".local", "aws.env")
	if err := stack.WriteAWSEnv(ctx, envFile); err != nil {
		return err
	}
	fmt.Println("Look inside: source .local/aws.env && aws --endpoint-url $AWS_ENDPOINT_URL dynamodb scan --table-name $INTEGRATIONS_TABLE --max-items 5")
	fmt.Println("Data lives in moto's memory: stopping make run empties every table.")
	fmt.Printf("Both APIs: http://127.0.0.1:%s\n\nOwner tokens (12 h):\n", port)
	for _, t := range devstack.DemoTenants {
		tok, err := stack.Issuer.Token(t.TenantID, "Owner", "owner@"+t.TenantID, 12*time.Hour)
		if err != nil {
			return err
		}
		fmt.Printf("  %s (%s):\n    %s\n", t.TenantID, t.Plan, tok)
	}
	fmt.Printf("\nTry: curl -s http://127.0.0.1:%s/api/integrations/api-keys -H \"Authorization: Bearer $(go run ./infra/local token --tenant demo-enterprise)\"\n", port)
	if stack.Microsoft != nil {
		fmt.Printf("Fake Microsoft (login and Graph, demo directory %s, contoso.example): %s\n", msgraphfake.DemoTenantID, stack.MicrosoftURL)
		fmt.Println("  Connect Entra ID: README.md, \"Microsoft Entra ID locally\".")
	}
	fmt.Println("Ctrl-C stops everything.")

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	slog.Info("shutting down")
	return srv.Shutdown(shutdown)
}

// alertsEvery is how often `make run` makes an alerts pass (the template: 15 minutes).
const alertsEvery = time.Minute

const alertsPath = "/local/alerts/run"

// runAlerts makes one pass as of ?at= (RFC 3339; default now) and answers what it did.
func runAlerts(w http.ResponseWriter, r *http.Request, stack *devstack.Stack) {
	var (
		res alert.Result
		err error
	)
	if s := r.URL.Query().Get("at"); s != "" {
		at, perr := time.Parse(time.RFC3339, s)
		if perr != nil {
			http.Error(w, "at must be an RFC 3339 time, e.g. 2026-12-01T09:00:00Z", http.StatusBadRequest)
			return
		}
		res, err = stack.SimulatedAlerts(r.Context(), at, time.Now())
	} else {
		res, err = stack.Alerts.Run(r.Context(), time.Now())
	}
	var refused *devstack.SimulatedAlertsRefused
	switch {
	case errors.As(err, &refused):
		http.Error(w, refused.Reason, http.StatusConflict)
		return
	case err != nil:
		http.Error(w, "alerts pass failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"from": isotime.Format(res.From), "to": isotime.Format(res.To),
		"candidates": res.Candidates, "stale": res.Stale, "fired": res.Fired,
	})
}

// alerts asks the running local stack (make run) for one alerts pass.
func alerts(args []string) error {
	fs := flag.NewFlagSet("alerts", flag.ContinueOnError)
	at := fs.String("at", "", "run the pass as of this RFC 3339 time (default: now), e.g. tomorrow to see tomorrow's alerts today")
	port := fs.String("port", envOr("PORT", "3000"), "the local stack's port")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u := "http://127.0.0.1:" + *port + alertsPath
	if *at != "" {
		if _, err := time.Parse(time.RFC3339, *at); err != nil {
			return fmt.Errorf("--at must be an RFC 3339 time, e.g. 2026-12-01T09:00:00Z")
		}
		u += "?at=" + url.QueryEscape(*at)
	}
	return postLocal(u)
}

// postLocal POSTs to one of the running stack's local-only routes and
// prints its answer.
func postLocal(u string) error {
	resp, err := http.Post(u, "application/json", nil)
	if err != nil {
		return fmt.Errorf("is the local stack running (make run)? %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Print(string(body))
	return nil
}

const sweepPath = "/local/sweep"

// sweep asks the running stack to sweep DeliveryDLQ and StreamDLQ now, as
// their schedules' ticks do, and prints what each did.
func sweep(args []string) error {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	port := fs.String("port", envOr("PORT", "3000"), "the local stack's port")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return postLocal("http://127.0.0.1:" + *port + sweepPath)
}

// runSweeps runs both sweeps, each within its function's Timeout.
func runSweeps(w http.ResponseWriter, r *http.Request, stack *devstack.Stack) {
	within := func(fn string) (context.Context, context.CancelFunc) {
		return context.WithTimeout(r.Context(), stack.Template.Timeout(fn))
	}
	ctx, cancel := within("DispatcherFunction")
	deliveries, err := stack.Dispatcher.SweepDeadLetters(ctx)
	cancel()
	if err != nil {
		http.Error(w, "DeliveryDLQ: "+err.Error(), http.StatusInternalServerError)
		return
	}
	ctx, cancel = within("StreamRouterFunction")
	batches, err := stack.Router.SweepStreamDLQ(ctx)
	cancel()
	if err != nil {
		http.Error(w, "StreamDLQ: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"DeliveryDLQ": deliveries, "StreamDLQ": batches})
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// receiver runs a webhook receiver on loopback until ctx ends: it prints
// each delivery, checks its signatures with --secret and answers --status.
func receiver(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("receiver", flag.ContinueOnError)
	port := fs.Int("port", 9000, "port on 127.0.0.1")
	secret := fs.String("secret", "", "the webhook's signing secret (whsec_…) to check signatures with")
	status := fs.Int("status", http.StatusOK, "the status every delivery is answered (e.g. 500 or 410 to watch retries)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *status < 200 || *status > 599 {
		return fmt.Errorf("--status must be an HTTP status, 200 to 599")
	}
	rv := &devstack.VerifyingReceiver{Out: os.Stdout}
	rv.Set(*secret, *status)
	srv := &http.Server{Addr: fmt.Sprintf("127.0.0.1:%d", *port), Handler: rv, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	fmt.Printf("Receiving webhooks on http://127.0.0.1:%d/ (any path), answering %d. Ctrl-C stops it.\n", *port, *status)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
