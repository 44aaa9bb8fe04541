package webhook

import (
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/isotime"
)

// The rule: every attempt failed for After, seen on 3 occasions Spacing
// apart. A burst is one occasion; a streak long enough but seen on two
// occasions only is not disabled; a paused or already disabled webhook, or
// one with no streak, is never judged; After 0 never disables.
func TestDisableRule(t *testing.T) {
	rule := DisableRule{After: 120 * time.Hour, Spacing: 12 * time.Hour}
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	at := func(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }
	streak := func(marks int, lastMark float64) Webhook {
		return Webhook{Status: Active, FailingSince: isotime.Format(t0), FailMarks: marks, FailMarkAt: isotime.Format(at(lastMark))}
	}
	for _, c := range []struct {
		name          string
		w             Webhook
		now           time.Time
		mark, disable bool
	}{
		{"a burst: no new occasion", streak(1, 0), at(1), false, false},
		{"the second occasion", streak(1, 0), at(12), true, false},
		{"the third occasion, too soon", streak(2, 12), at(24), true, false},
		{"three occasions and five days", streak(2, 12), at(120), true, true},
		{"five days, but seen twice only", streak(1, 0), at(120), true, false},
		{"five days, third occasion already marked", streak(3, 118), at(121), false, true},
		{"a streak with no marks recorded (before this rule)", Webhook{Status: Active, FailingSince: isotime.Format(t0)}, at(12), true, false},
		{"no streak", Webhook{Status: Active}, at(200), false, false},
		{"paused", func() Webhook { w := streak(5, 100); w.Status = Paused; return w }(), at(200), false, false},
		{"already disabled", func() Webhook { w := streak(5, 100); w.Status = Disabled; return w }(), at(200), false, false},
	} {
		mark, disable := rule.Judge(c.w, c.now)
		if mark != c.mark || disable != c.disable {
			t.Errorf("%s: mark %v disable %v, want %v %v", c.name, mark, disable, c.mark, c.disable)
		}
	}
	if _, disable := (DisableRule{Spacing: time.Hour}).Judge(streak(10, 100), at(1000)); disable {
		t.Error("After 0 disabled a webhook")
	}
}
