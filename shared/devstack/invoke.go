package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// TimedOut is an invocation that reached its function's Timeout: Lambda
// reports it as a function error ("Task timed out after ...").
type TimedOut struct {
	Function string
	After    time.Duration
}

func (e *TimedOut) Error() string {
	return fmt.Sprintf("%s: Task timed out after %.2f seconds", e.Function, e.After.Seconds())
}

// invoke runs h as Lambda runs a function with Timeout limit: its context's
// deadline is the limit, and at the deadline the invocation fails with
// *TimedOut without waiting for h. Lambda freezes the runtime there; here h
// may go on until it sees its context end (a DynamoDB call already sent
// runs to moto's answer: the isolation middleware), but what it returns is
// dropped.
// A limit of 0 runs h without one (gateways built by hand).
func invoke[E, R any](ctx context.Context, fn string, limit time.Duration, h func(context.Context, E) (R, error), ev E) (R, error) {
	if limit <= 0 {
		return h(ctx, ev)
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	type result struct {
		r   R
		err error
	}
	done := make(chan result, 1) // buffered: a late h never blocks
	go func() {
		r, err := h(ctx, ev)
		done <- result{r, err}
	}()
	select {
	case res := <-done:
		return res.r, res.err
	case <-ctx.Done():
		var zero R
		if parent.Err() != nil {
			return zero, parent.Err() // the caller gave up (the stack is closing)
		}
		slog.Error("invocation reached its time limit", "function", fn, "limit", limit.String())
		return zero, &TimedOut{Function: fn, After: limit}
	}
}

// Timed is h with fn's Timeout applied to every call (pollers and schedules).
func Timed[E, R any](fn string, limit time.Duration, h func(context.Context, E) (R, error)) func(context.Context, E) (R, error) {
	return func(ctx context.Context, ev E) (R, error) { return invoke(ctx, fn, limit, h, ev) }
}
