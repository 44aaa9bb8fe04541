package parallel

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

const limit = 16

// Every index is called once, no more than limit at a time.
func TestEachCallsEachOnce(t *testing.T) {
	const n = 1000
	var calls [n]atomic.Int32
	var running, most atomic.Int32
	err := Each(context.Background(), n, limit, func(_ context.Context, i int) error {
		r := running.Add(1)
		for m := most.Load(); r > m && !most.CompareAndSwap(m, r); m = most.Load() {
		}
		calls[i].Add(1)
		running.Add(-1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range calls {
		if c := calls[i].Load(); c != 1 {
			t.Fatalf("index %d called %d times", i, c)
		}
	}
	if m := most.Load(); m > limit {
		t.Errorf("%d calls at once, want at most %d", m, limit)
	}
}

// After a failure no more calls start, and the failure is what returns.
func TestEachStopsAtTheFirstError(t *testing.T) {
	boom := errors.New("boom")
	var started atomic.Int32
	err := Each(context.Background(), 10_000, limit, func(ctx context.Context, i int) error {
		started.Add(1)
		if i == 0 {
			return boom
		}
		<-ctx.Done() // the others wait for the failure, so it lands before they end
		return ctx.Err()
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if s := started.Load(); s > limit {
		t.Errorf("%d calls started after the failure; want no more than the %d running", s, limit)
	}
	if err := Each(context.Background(), 0, limit, func(context.Context, int) error { return boom }); err != nil {
		t.Errorf("no calls: %v", err)
	}
}
