// Package delivery turns events into signed POSTs: the payload, both
// signature schemes, the retry schedule, the delivery records, and the
// dispatcher that sends and records each attempt.
package delivery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/uniasset/integrations/shared/isotime"
)

// userAgent names the sender on every request to an endpoint.
const userAgent = "UniAsset-Webhooks/1.0"

// Headers returns the headers of one attempt, signed with secrets: the
// webhook's current secret first, then any a rotation replaced that are
// still in their overlap (webhook.Webhook.SigningSecrets).
//
// webhook-signature is Standard Webhooks: one "v1,<base64>" per secret,
// space-separated (HMAC-SHA256 of "id.timestamp.body" keyed by the
// base64-decoded part of the whsec_ secret), so a receiver holding any of
// them verifies, and its libraries can be used. X-UniAsset-Signature is the
// spec's hex HMAC-SHA256 of the raw body keyed by the secret string; it holds
// one value, so it is keyed by the last (oldest) secret: a receiver that
// checks it keeps working on the secret it has until the overlap ends.
func Headers(secrets []string, deliveryID, event string, body []byte, at time.Time) map[string]string {
	ts := strconv.FormatInt(at.Unix(), 10)
	sigs := make([]string, len(secrets))
	for i, secret := range secrets {
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(standardMAC(secret, deliveryID, ts, body))
	}

	return map[string]string{
		"Content-Type":         "application/json",
		"User-Agent":           userAgent,
		"X-UniAsset-Event":     event,
		"X-UniAsset-Timestamp": isotime.Format(at),
		"X-UniAsset-Signature": hex.EncodeToString(specMAC(secrets[len(secrets)-1], body)),
		"webhook-id":           deliveryID,
		"webhook-timestamp":    ts,
		"webhook-signature":    strings.Join(sigs, " "),
	}
}

// standardMAC is webhook-signature's HMAC-SHA256 of "id.timestamp.body",
// keyed by the base64-decoded part of a whsec_ secret.
func standardMAC(secret, id, ts string, body []byte) []byte {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		key = []byte(secret) // not a whsec_ secret: fall back to its bytes
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	return mac.Sum(nil)
}

// specMAC is X-UniAsset-Signature's HMAC-SHA256 of the body, keyed by the
// secret string.
func specMAC(secret string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return mac.Sum(nil)
}
