package idempotency

import (
	"strings"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	live, ended := now.Add(time.Second).Unix(), now.Add(-time.Second).Unix()
	cases := []struct {
		name     string
		existing record
		want     verdict
	}{
		{"our own put met by its retry", record{Token: "mine", Fingerprint: "f", State: "in_progress", LeaseUntil: live}, ours},
		{"another body under the key", record{Token: "t", Fingerprint: "other", State: "completed"}, conflict},
		{"another body, even while running", record{Token: "t", Fingerprint: "other", State: "in_progress", LeaseUntil: live}, conflict},
		{"finished", record{Token: "t", Fingerprint: "f", State: "completed", LeaseUntil: ended}, replay},
		{"finished, lease still running", record{Token: "t", Fingerprint: "f", State: "completed", LeaseUntil: live}, replay},
		{"running", record{Token: "t", Fingerprint: "f", State: "in_progress", LeaseUntil: live}, inProgress},
		{"lease ends this second", record{Token: "t", Fingerprint: "f", State: "in_progress", LeaseUntil: now.Unix()}, inProgress},
		{"holder died", record{Token: "t", Fingerprint: "f", State: "in_progress", LeaseUntil: ended}, takeOver},
		{"released (lease 0)", record{Token: "t", Fingerprint: "f", State: "in_progress", Applied: "asset a1"}, takeOver},
	}
	for _, c := range cases {
		if got := decide(c.existing, "mine", "f", now); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

func TestValidKey(t *testing.T) {
	for _, ok := range []string{"a", "order-42/retry:1", strings.Repeat("k", MaxKeyLength), "~!@#$%^&*()"} {
		if !ValidKey(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", " ", "a b", "a,b", "é", "tab\there", "nl\n", strings.Repeat("k", MaxKeyLength+1)} {
		if ValidKey(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestFingerprintCoversMethodPathAndBody(t *testing.T) {
	base := Fingerprint("POST", "/api/integrations/assets/create", []byte(`{"a":1}`))
	for _, other := range []string{
		Fingerprint("PUT", "/api/integrations/assets/create", []byte(`{"a":1}`)),
		Fingerprint("POST", "/api/integrations/assets/update", []byte(`{"a":1}`)),
		Fingerprint("POST", "/api/integrations/assets/create", []byte(`{"a":2}`)),
		// The separator keeps the path from running into the body.
		Fingerprint("POST", "/api/integrations/assets/create\n{", []byte(`"a":1}`)),
	} {
		if other == base {
			t.Fatal("two different requests share a fingerprint")
		}
	}
	if Fingerprint("POST", "/api/integrations/assets/create", []byte(`{"a":1}`)) != base {
		t.Fatal("not deterministic")
	}
}

// The table key holds a hash of the client's key, never the key itself.
func TestRecordKeyHoldsNoClearKey(t *testing.T) {
	secret := "4111111111111111"
	pk := recordKeyOf("t1", secret).PK
	if strings.Contains(pk, secret) || !strings.Contains(pk, "t1") || recordKeyOf("t2", secret).PK == pk || recordKeyOf("t1", secret+"x").PK == pk {
		t.Fatalf("PK %q", pk)
	}
}
