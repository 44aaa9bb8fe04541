package devstack_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/ratelimit"
)

// Concurrent reservations against moto (DynamoDB's conditional writes, as
// the dispatcher's principal) take distinct slots one interval apart: no
// two callers get the same slot, whatever the remembered TATs.
func TestRateLimitTableReservesDistinctSlots(t *testing.T) {
	t.Parallel()
	tid := "ratelimit-" + time.Now().Format("150405.000000")
	l := ratelimit.Limit{Every: time.Second, Burst: 1, Shards: 1}
	key := ratelimit.Key{TenantID: tid, Scope: "SEND#wh_x"}
	var mu sync.Mutex
	var starts []time.Time
	var wg sync.WaitGroup
	for range 4 { // instances, each with its own remembered TATs
		lim := &ratelimit.Table{DB: stack.Dispatcher.Deliveries.DB, Table: stack.IntegrationsTable}
		for range 5 {
			wg.Go(func() {
				ok, start, err := lim.Reserve(context.Background(), key, l, time.Hour)
				if err != nil || !ok {
					t.Errorf("reserve: ok=%v err=%v", ok, err)
					return
				}
				mu.Lock()
				starts = append(starts, start)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < len(starts); i++ {
		if gap := starts[i].Sub(starts[i-1]); gap < l.Every {
			t.Fatalf("slots %d and %d are %v apart, want at least %v: %v", i-1, i, gap, l.Every, starts)
		}
	}
}
