// Package parallel runs independent calls a bounded number at a time.
package parallel

import (
	"context"
	"sync"
	"sync/atomic"
)

// Each calls f with 0..n-1, at most limit at a time; after the
// first error it starts no more and returns that error once the running ones
// end.
func Each(ctx context.Context, n, limit int, f func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(limit, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}
