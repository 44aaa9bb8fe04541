package delivery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Whatever the body, id and event: the Standard Webhooks verifier accepts what
// we sign and refuses it after any one byte of the body changes, and
// X-UniAsset-Signature is the body's HMAC under the secret.
func FuzzSignatureVerification(f *testing.F) {
	f.Add([]byte(`{"event":"asset.created"}`), "msg_1", "asset.created", uint(0))
	f.Add([]byte{}, "d", "e", uint(3))
	f.Add([]byte("\x00\xff\n"), "wh_01.abc", "webhook.test", uint(1))
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, id, event string, flip uint) {
		h := Headers([]string{secret}, id, event, body, time.Now())
		hdr := http.Header{}
		for k, v := range h {
			hdr.Set(k, v)
		}
		if id == "" || hdr.Get("webhook-id") != id {
			return // delivery ids are never empty, and one that is not a valid header value cannot be sent
		}
		if err := wh.Verify(body, hdr); err != nil {
			t.Fatalf("our signature does not verify: %v", err)
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		if !hmac.Equal([]byte(h["X-UniAsset-Signature"]), []byte(hex.EncodeToString(mac.Sum(nil)))) {
			t.Fatal("X-UniAsset-Signature is not the body's HMAC")
		}
		if len(body) == 0 {
			return
		}
		changed := append([]byte(nil), body...)
		changed[flip%uint(len(changed))] ^= 0x01
		if wh.Verify(changed, hdr) == nil {
			t.Fatal("a changed body verified")
		}
	})
}
