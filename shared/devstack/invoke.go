package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
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
func invoke[E, R any](ctx context.Context, u *Usage, fn string, limit time.Duration, h func(context.Context, E) (R, error), ev E) (R, error) {
	if u != nil {
		start, cpu := time.Now(), processCPU()
		defer func() { u.record(fn, time.Since(start), processCPU()-cpu) }()
	}
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
	return timed(nil, fn, limit, h)
}

// timed is Timed recording each call in u.
func timed[E, R any](u *Usage, fn string, limit time.Duration, h func(context.Context, E) (R, error)) func(context.Context, E) (R, error) {
	return func(ctx context.Context, ev E) (R, error) { return invoke(ctx, u, fn, limit, h, ev) }
}

// Usage is what Lambda would bill the stack's functions for: each one's
// invocations and their time (to its answer, or to its Timeout).
type Usage struct {
	mu  sync.Mutex
	use map[string]FunctionUsage
}

// FunctionUsage is one function's invocations and the time they took.
type FunctionUsage struct {
	Invocations int
	Took        time.Duration
	// CPU is the processor time this process spent while they ran: the
	// functions' own, plus whatever else ran meanwhile (the local stack's
	// pollers, a test's receiver; moto is another process). With one
	// invocation at a time it is an upper bound of the function's.
	CPU time.Duration
}

// processCPU is the processor time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (u *Usage) record(fn string, took, cpu time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.use == nil {
		u.use = map[string]FunctionUsage{}
	}
	f := u.use[fn]
	f.Invocations++
	f.Took += took
	f.CPU += cpu
	u.use[fn] = f
}

// Take returns the usage so far, by function, and starts anew.
func (u *Usage) Take() map[string]FunctionUsage {
	u.mu.Lock()
	defer u.mu.Unlock()
	m := u.use
	u.use = nil
	return m
}

// Measure runs f as one invocation of a function and returns what Usage
// records for one (a bench running a scheduled function's handler itself).
func Measure(f func() error) (FunctionUsage, error) {
	start, cpu := time.Now(), processCPU()
	err := f()
	return FunctionUsage{Invocations: 1, Took: time.Since(start), CPU: processCPU() - cpu}, err
}
