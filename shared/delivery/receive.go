package delivery

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Signatures is what a receiver holding one secret learns of a delivery's
// two signatures (Headers makes them).
type Signatures struct {
	// Standard: one of webhook-signature's "v1," values is the HMAC of
	// "webhook-id.webhook-timestamp.body" keyed by the secret's decoded part.
	Standard bool
	// Spec: X-UniAsset-Signature is the hex HMAC of the body keyed by the
	// secret string.
	Spec bool
	// Fresh: webhook-timestamp is within the tolerance of now (a replayed
	// old request is refused even with a good signature).
	Fresh bool
}

// Valid is a delivery a receiver may act on: both signatures and the time.
func (s Signatures) Valid() bool { return s.Standard && s.Spec && s.Fresh }

// CheckSignatures verifies a delivery as a receiver does: the raw body as
// received (not re-encoded JSON), compared in constant time. During a
// rotation's overlap webhook-signature carries a signature per secret, so
// either secret passes Standard; X-UniAsset-Signature is keyed by the
// older one until the overlap ends.
func CheckSignatures(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) Signatures {
	var s Signatures
	if got, err := hex.DecodeString(h.Get("X-UniAsset-Signature")); err == nil {
		s.Spec = hmac.Equal(got, specMAC(secret, body))
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	if secs, err := strconv.ParseInt(ts, 10, 64); err == nil {
		d := now.Sub(time.Unix(secs, 0))
		s.Fresh = d <= tolerance && d >= -tolerance
	}
	want := standardMAC(secret, id, ts, body)
	for _, v := range strings.Fields(h.Get("webhook-signature")) {
		if sig, ok := strings.CutPrefix(v, "v1,"); ok {
			if got, err := base64.StdEncoding.DecodeString(sig); err == nil && hmac.Equal(got, want) {
				s.Standard = true
			}
		}
	}
	return s
}
