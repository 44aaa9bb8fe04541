// Package lambdas is the registry of the system's Lambda functions: for
// each function of template.yaml, its logical id, its main, its
// configuration and its wiring, with the handler for each kind of event
// that invokes it. The README's settings table, the local stack and its
// event-source pollers all loop over it, so a new function is an entry
// here, a main (functions/<Main>, calling the same Build through boot) and
// the template, whose events say what invokes it.
package lambdas

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/uniasset/integrations/shared/adminapi"
	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/config"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/entra"
	"github.com/uniasset/integrations/shared/integrationapi"
	"github.com/uniasset/integrations/shared/streamrouter"
)

// Handlers are a wired function's entry points, one for each kind of event
// the template gives it (nil: it takes none of that kind).
type Handlers struct {
	HTTP     http.Handler                                                                      // HttpApi routes
	Stream   func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) // a DynamoDB stream
	Queue    func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)           // an SQS queue
	Schedule func(context.Context) error                                                       // EventBridge Scheduler
	// Wired is what Build returned (*delivery.Dispatcher, *alert.Pass...),
	// for callers that reach into a function (the local stack's tests).
	Wired any
}

// Function is one Lambda of template.yaml.
type Function struct {
	ID     string                 // logical id in template.yaml
	Main   string                 // its main's directory under functions/
	Config func() config.Function // a fresh configuration of its type
	// Build wires the function from its configuration (of Config's type),
	// as its main does at cold start.
	Build func(ctx context.Context, cfg config.Function, awsCfg aws.Config) (Handlers, error)
}

// All are the system's functions, in the template's order.
var All = []Function{
	entry("IntegrationApiFunction", "integration-api", integrationapi.Build, func(h http.Handler) Handlers { return Handlers{HTTP: h} }),
	entry("AdminApiFunction", "admin-api", adminapi.Build, func(h http.Handler) Handlers { return Handlers{HTTP: h} }),
	entry("StreamRouterFunction", "stream-router", streamrouter.Build, func(r *streamrouter.Router) Handlers {
		return Handlers{Stream: r.Handle, Schedule: func(ctx context.Context) error { _, err := r.SweepStreamDLQ(ctx); return err }}
	}),
	entry("DispatcherFunction", "dispatcher", delivery.Build, func(d *delivery.Dispatcher) Handlers {
		return Handlers{Queue: d.Handle, Schedule: func(ctx context.Context) error { _, err := d.SweepDeadLetters(ctx); return err }}
	}),
	entry("ExpiryAlertsFunction", "expiry-alerts", alert.Build, func(p *alert.Pass) Handlers {
		return Handlers{Schedule: func(ctx context.Context) error { return p.Handle(ctx, nil) }}
	}),
	entry("EntraSyncFunction", "entra-sync", entra.Build, func(f *entra.Function) Handlers {
		return Handlers{Queue: f.HandleSQS, Schedule: func(ctx context.Context) error { _, err := f.FanOut(ctx); return err }}
	}),
}

// Configs maps each function's logical id to a fresh configuration of its
// type (config.Table's argument).
func Configs() map[string]func() config.Function {
	m := make(map[string]func() config.Function, len(All))
	for _, f := range All {
		m[f.ID] = f.Config
	}
	return m
}

// entry types one registry line: build is the function's own Build (the one
// its main calls), handlers names its entry points.
func entry[C any, P interface {
	*C
	config.Function
}, F any](id, main string, build func(context.Context, C, aws.Config) (F, error), handlers func(F) Handlers) Function {
	return Function{
		ID: id, Main: main,
		Config: func() config.Function { return P(new(C)) },
		Build: func(ctx context.Context, cfg config.Function, awsCfg aws.Config) (Handlers, error) {
			f, err := build(ctx, *cfg.(P), awsCfg)
			if err != nil {
				return Handlers{}, err
			}
			h := handlers(f)
			h.Wired = f
			return h, nil
		},
	}
}
