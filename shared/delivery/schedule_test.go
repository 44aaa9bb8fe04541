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
