package delivery

import (
	"fmt"
	"math/rand/v2"
	"net/http"
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

// Retry is the wait after attempt n of r failed, counted in r's round (a
// resend's single attempt has none; the first round is the whole schedule).
func (r Record) Retry(schedule []time.Duration, n int) (time.Duration, bool) {
	if r.RoundAttempts > 0 && n-r.RoundFrom >= r.RoundAttempts {
		return 0, false
	}
	return Backoff(schedule, n-r.RoundFrom)
}

// Verdict is what one attempt's answer means for its delivery.
type Verdict struct {
	Status  string        // Delivered, Failed, or Pending (a retry is scheduled)
	Error   string        // why it was not delivered; empty when it was
	RetryIn time.Duration // how long until the retry, when Pending
}

// Judge decides a delivery's next step from one attempt's answer, the HTTP
// status or the transport error: a 2xx delivers; 410 Gone fails at once (the
// receiver asked for no more); anything else (a 3xx, since redirects are not
// followed; a 4xx or 5xx; a timeout or a refused connection) is retried after
// the wait retry gives, and fails once the schedule is spent.
func Judge(status int, sendErr error, retry func() (time.Duration, bool)) Verdict {
	switch {
	case sendErr == nil && status >= 200 && status < 300:
		return Verdict{Status: Delivered}
	case sendErr == nil && status == http.StatusGone:
		return Verdict{Status: Failed, Error: "410 Gone: the receiver asked for no more deliveries"}
	}
	v := Verdict{Status: Failed, Error: fmt.Sprintf("HTTP %d", status)}
	if sendErr != nil {
		v.Error = sendErr.Error()
	}
	if wait, more := retry(); more {
		v.Status, v.RetryIn = Pending, wait
	}
	return v
}
