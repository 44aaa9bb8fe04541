package delivery

import (
	"math/rand/v2"
	"time"
)

// maxVisibility is SQS's ceiling for a message's visibility timeout.
const maxVisibility = 12 * time.Hour

// Backoff is the wait after the given failed attempt (1-based), with ±10%
// jitter so a receiver's outage does not end in a synchronized stampede.
// ok is false when no attempts remain.
func Backoff(schedule []time.Duration, attempt int) (wait time.Duration, ok bool) {
	if attempt < 1 || attempt > len(schedule) {
		return 0, false
	}
	base := schedule[attempt-1]
	jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(base))
	wait = max(base+jitter, time.Second)
	return min(wait, maxVisibility), true
}
