package delivery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/uniasset/integrations/shared/apidoc"
)

func TestHeadersVerifyBothWays(t *testing.T) {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"event":"asset.created","timestamp":"2026-03-08T09:15:00.000Z","data":{"assetId":"asset_123"}}`)
	at := time.Now()
	h := Headers([]string{secret}, "msg_1", "asset.created", body, at)

	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	if h["X-UniAsset-Signature"] != hex.EncodeToString(mac.Sum(nil)) {
		t.Fatal("X-UniAsset-Signature is not hex HMAC-SHA256 of the body keyed by the secret string")
	}
	hdr := http.Header{}
	for k, v := range h {
		hdr.Set(k, v)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(body, hdr); err != nil {
		t.Fatalf("Standard Webhooks library rejects our headers: %v", err)
	}
	if err := wh.Verify(append(body, ' '), hdr); err == nil {
		t.Fatal("a changed body verified")
	}
	key, _ := base64.StdEncoding.DecodeString(secret[len("whsec_"):])
	std := hmac.New(sha256.New, key)
	std.Write([]byte("msg_1." + h["webhook-timestamp"] + "."))
	std.Write(body)
	if h["webhook-signature"] != "v1,"+base64.StdEncoding.EncodeToString(std.Sum(nil)) {
		t.Fatal("webhook-signature differs from an independent computation")
	}
}

func TestBackoff(t *testing.T) {
	schedule := []time.Duration{5 * time.Second, 10 * time.Hour, 11 * time.Hour}
	for i, base := range schedule {
		for range 200 {
			w, ok := Backoff(schedule, i+1)
			if !ok || w < base*9/10 || w > base*11/10 || w > maxVisibility {
				t.Fatalf("attempt %d: wait %s outside ±10%% of %s or above SQS's 12 h", i+1, w, base)
			}
		}
	}
	if _, ok := Backoff(schedule, len(schedule)+1); ok {
		t.Fatal("a retry after the last scheduled one")
	}
}

func TestIDIsDeterministicPerEventAndWebhook(t *testing.T) {
	a, b := ID("ev1", "asset.created", "wh_1"), ID("ev1", "asset.created", "wh_1")
	if a != b || a == ID("ev1", "asset.updated", "wh_1") || a == ID("ev1", "asset.created", "wh_2") || a == ID("ev2", "asset.created", "wh_1") {
		t.Fatal("delivery ids must be equal for the same (event record, event, webhook) and differ otherwise")
	}
}

// During a rotation's overlap webhook-signature carries one v1 signature per
// secret: the Standard Webhooks library verifies with the new secret and
// with the old one, not with a third. X-UniAsset-Signature is keyed by the
// oldest secret still signing.
func TestHeadersDuringAnOverlapVerifyWithEitherSecret(t *testing.T) {
	current, old := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_dGhpcyBpcyB0aGUgb2xkIHNlY3JldCBrZXkhIQ=="
	body := []byte(`{"event":"asset.created","timestamp":"2026-03-08T09:15:00.000Z","data":{}}`)
	h := Headers([]string{current, old}, "msg_1", "asset.created", body, time.Now())
	hdr := http.Header{}
	for k, v := range h {
		hdr.Set(k, v)
	}
	for _, secret := range []string{current, old} {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(body, hdr); err != nil {
			t.Errorf("holding %s…: %v", secret[:10], err)
		}
	}
	other, _ := standardwebhooks.NewWebhook("whsec_b3RoZXIgc2VjcmV0IGtleSBvZiAyNCBieXRlcw==")
	if other.Verify(body, hdr) == nil {
		t.Error("a third secret verified")
	}
	mac := hmac.New(sha256.New, []byte(old))
	mac.Write(body)
	if h["X-UniAsset-Signature"] != hex.EncodeToString(mac.Sum(nil)) {
		t.Error("X-UniAsset-Signature is not keyed by the oldest secret")
	}
	if n := len(strings.Fields(h["webhook-signature"])); n != 2 {
		t.Errorf("%d signatures, want 2", n)
	}
}

// The Developer Guide's worked example of a signature is what we send: its
// inputs, signed here, give its signatures, and the Standard Webhooks
// library (a second implementation) agrees with its webhook-signature.
func TestTheGuidesWorkedSignatureIsOurs(t *testing.T) {
	r, err := apidoc.Delivery()
	if err != nil {
		t.Fatal(err)
	}
	e := r.Verify.Example
	secs, err := strconv.ParseInt(e.WebhookTimestamp, 10, 64)
	if err != nil {
		t.Fatalf("webhookTimestamp %q: %v", e.WebhookTimestamp, err)
	}
	h := Headers([]string{e.Secret}, e.WebhookID, "asset.created", []byte(e.Body), time.Unix(secs, 0))
	if h["webhook-signature"] != e.WebhookSignature || h["X-UniAsset-Signature"] != e.UniAssetSignature {
		t.Fatalf("the guide's example says %q and %q; we sign %q and %q",
			e.WebhookSignature, e.UniAssetSignature, h["webhook-signature"], h["X-UniAsset-Signature"])
	}
	if e.SignedContent != e.WebhookID+"."+e.WebhookTimestamp+"."+e.Body {
		t.Fatalf("signed content: %q", e.SignedContent)
	}
	wh, err := standardwebhooks.NewWebhook(e.Secret)
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{"Webhook-Id": {e.WebhookID}, "Webhook-Timestamp": {e.WebhookTimestamp}, "Webhook-Signature": {e.WebhookSignature}}
	if err := wh.VerifyIgnoringTimestamp([]byte(e.Body), hdr); err != nil {
		t.Fatalf("the Standard Webhooks library rejects the guide's example: %v", err)
	}
}
