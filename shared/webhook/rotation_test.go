package webhook

import (
	"slices"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/isotime"
)

// A rotation keeps the replaced secret signing for the overlap (the newest
// first, so the oldest keys X-UniAsset-Signature); a second rotation inside
// the overlap keeps both earlier ones; an overlap of 0 ends them all; an
// overlap that ended drops its secret; a sixth rotation within 24 hours is
// refused until the oldest leaves the window.
func TestRotate(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	w := Webhook{Secret: "s0"}
	if _, ok := w.Rotate("s1", DefaultOverlap, t0); !ok {
		t.Fatal("first rotation refused")
	}
	if got := w.SigningSecrets(t0.Add(time.Hour)); !slices.Equal(got, []string{"s1", "s0"}) {
		t.Fatalf("an hour in: %v", got)
	}
	if got := w.SigningSecrets(t0.Add(DefaultOverlap)); !slices.Equal(got, []string{"s1"}) {
		t.Fatalf("at the overlap's end: %v", got)
	}
	if _, ok := w.Rotate("s2", time.Hour, t0.Add(2*time.Hour)); !ok {
		t.Fatal("second rotation refused")
	}
	if got := w.SigningSecrets(t0.Add(150 * time.Minute)); !slices.Equal(got, []string{"s2", "s1", "s0"}) {
		t.Fatalf("two overlaps: %v", got)
	}
	if got := w.SigningSecrets(t0.Add(4 * time.Hour)); !slices.Equal(got, []string{"s2", "s0"}) {
		t.Fatalf("after the second overlap: %v", got)
	}
	if w.PreviousUntil != isotime.Format(t0.Add(DefaultOverlap)) {
		t.Fatalf("previousUntil %s", w.PreviousUntil)
	}
	if _, ok := w.Rotate("s3", 0, t0.Add(3*time.Hour)); !ok {
		t.Fatal("third rotation refused")
	}
	if got := w.SigningSecrets(t0.Add(3 * time.Hour)); !slices.Equal(got, []string{"s3"}) || w.PreviousUntil != "" || len(w.Previous) != 0 {
		t.Fatalf("an overlap of 0 left %v (until %q)", got, w.PreviousUntil)
	}
	for i, at := range []time.Duration{4 * time.Hour, 5 * time.Hour} {
		if _, ok := w.Rotate("s", time.Hour, t0.Add(at)); !ok {
			t.Fatalf("rotation %d refused", i+4)
		}
	}
	retry, ok := w.Rotate("s6", time.Hour, t0.Add(6*time.Hour))
	if ok || !retry.Equal(t0.Add(RotationWindow)) {
		t.Fatalf("sixth rotation in 24 h: ok %v, retry at %s", ok, retry)
	}
	if w.Secret != "s" {
		t.Fatal("a refused rotation changed the secret")
	}
	if _, ok := w.Rotate("s6", time.Hour, t0.Add(RotationWindow+time.Second)); !ok || len(w.Rotations) != 5 {
		t.Fatalf("a rotation once the first left the window: ok %v, %d kept", ok, len(w.Rotations))
	}
}

func TestRotateInput(t *testing.T) {
	n := func(v int) *int { return &v }
	s := func(v string) *string { return &v }
	for _, c := range []struct {
		in RotateInput
		ok bool
	}{
		{RotateInput{}, true},
		{RotateInput{OverlapHours: n(0)}, true},
		{RotateInput{OverlapHours: n(MaxOverlapHours)}, true},
		{RotateInput{OverlapHours: n(-1)}, false},
		{RotateInput{OverlapHours: n(MaxOverlapHours + 1)}, false},
		{RotateInput{Secret: s("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")}, true},
		{RotateInput{Secret: s("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")}, false},
		{RotateInput{Secret: s("whsec_c2hvcnQ=")}, false},
	} {
		if err := c.in.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: %v", c.in, err)
		}
	}
	if (RotateInput{}).Overlap() != DefaultOverlap || (RotateInput{OverlapHours: n(0)}).Overlap() != 0 {
		t.Error("overlap defaults")
	}
}
