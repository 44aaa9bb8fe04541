package delivery

import (
	"net/http"
	"testing"
	"time"
)

func header(m map[string]string) http.Header {
	h := http.Header{}
	for k, v := range m {
		h.Set(k, v)
	}
	return h
}

// What Headers signs, CheckSignatures verifies; a changed byte, another
// secret or an old timestamp does not.
func TestReceiverChecksBothSignatures(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	secret, other := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_QmFkU2VjcmV0QmFkU2VjcmV0QmFkU2VjcmV0"
	body := []byte(`{"event":"asset.created","timestamp":"2026-12-06T10:00:00.000Z","data":{"assetId":"a1"}}`)
	h := header(Headers([]string{secret}, "msg_1", "asset.created", body, at))
	if got := CheckSignatures(secret, h, body, at.Add(time.Minute), 5*time.Minute); !got.Valid() {
		t.Fatalf("a delivery as sent: %+v", got)
	}
	tampered := append([]byte{}, body...)
	tampered[len(tampered)-3] = 'X'
	for name, c := range map[string]Signatures{
		"another body":   CheckSignatures(secret, h, tampered, at, 5*time.Minute),
		"another secret": CheckSignatures(other, h, body, at, 5*time.Minute),
	} {
		if c.Standard || c.Spec {
			t.Errorf("%s verified: %+v", name, c)
		}
	}
	if c := CheckSignatures(secret, h, body, at.Add(6*time.Minute), 5*time.Minute); c.Fresh || c.Valid() {
		t.Errorf("a delivery 6 minutes old passed a 5-minute tolerance: %+v", c)
	}
	// A rotation's overlap: both secrets verify webhook-signature; the spec
	// header is keyed by the older one.
	h = header(Headers([]string{other, secret}, "msg_2", "asset.created", body, at))
	if c := CheckSignatures(other, h, body, at, time.Minute); !c.Standard || c.Spec {
		t.Errorf("the new secret during the overlap: %+v, want the standard signature only", c)
	}
	if c := CheckSignatures(secret, h, body, at, time.Minute); !c.Valid() {
		t.Errorf("the old secret during the overlap: %+v", c)
	}
}
