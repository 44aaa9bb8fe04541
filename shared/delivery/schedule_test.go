package delivery

import (
	"errors"
	"testing"
	"time"
)

// What each kind of answer means for the delivery, with the retry schedule
// running or spent.
func TestJudge(t *testing.T) {
	more := func() (time.Duration, bool) { return 5 * time.Minute, true }
	spent := func() (time.Duration, bool) { return 0, false }
	timeout := errors.New("timeout: no response within the delivery timeout")
	for _, c := range []struct {
		name    string
		status  int
		err     error
		retry   func() (time.Duration, bool)
		want    string
		wantErr string
		retryIn time.Duration
	}{
		{"200", 200, nil, more, Delivered, "", 0},
		{"204", 204, nil, spent, Delivered, "", 0},
		{"299", 299, nil, more, Delivered, "", 0},
		{"301: redirects are not followed", 301, nil, more, Pending, "HTTP 301", 5 * time.Minute},
		{"400", 400, nil, more, Pending, "HTTP 400", 5 * time.Minute},
		{"410 stops at once", 410, nil, more, Failed, "410 Gone: the receiver asked for no more deliveries", 0},
		{"429", 429, nil, more, Pending, "HTTP 429", 5 * time.Minute},
		{"500", 500, nil, more, Pending, "HTTP 500", 5 * time.Minute},
		{"500, schedule spent", 500, nil, spent, Failed, "HTTP 500", 0},
		{"timeout", 0, timeout, more, Pending, timeout.Error(), 5 * time.Minute},
		{"timeout, schedule spent", 0, timeout, spent, Failed, timeout.Error(), 0},
		{"199", 199, nil, more, Pending, "HTTP 199", 5 * time.Minute},
	} {
		v := Judge(c.status, c.err, c.retry)
		if v.Status != c.want || v.Error != c.wantErr || v.RetryIn != c.retryIn {
			t.Errorf("%s: %+v, want %s %q %s", c.name, v, c.want, c.wantErr, c.retryIn)
		}
	}
}

// A record's retries count in its round: the first round is the whole
// schedule; a resend's round is its one attempt, however many came before;
// a round of the whole schedule opened later starts the schedule again.
func TestRetryCountsInTheRound(t *testing.T) {
	schedule := []time.Duration{time.Minute, time.Hour, 10 * time.Hour}
	for _, c := range []struct {
		name string
		rec  Record
		n    int
		want time.Duration // 0: no retry
	}{
		{"first attempt", Record{}, 1, time.Minute},
		{"third attempt", Record{}, 3, 10 * time.Hour},
		{"schedule spent", Record{}, 4, 0},
		{"a resend after one attempt", Record{RoundFrom: 1, RoundAttempts: 1}, 2, 0},
		{"a resend after the schedule", Record{RoundFrom: 4, RoundAttempts: 1}, 5, 0},
		{"a new full round, its first", Record{RoundFrom: 4}, 5, time.Minute},
		{"a new full round, its third", Record{RoundFrom: 4}, 7, 10 * time.Hour},
		{"a new full round, spent", Record{RoundFrom: 4}, 8, 0},
		{"a round of two, its first", Record{RoundFrom: 4, RoundAttempts: 2}, 5, time.Minute},
		{"a round of two, spent", Record{RoundFrom: 4, RoundAttempts: 2}, 6, 0},
	} {
		wait, ok := c.rec.Retry(schedule, c.n)
		if ok != (c.want > 0) || (ok && (wait < c.want*9/10 || wait > c.want*11/10)) {
			t.Errorf("%s: %s, %v; want about %s", c.name, wait, ok, c.want)
		}
	}
}
