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

// Headers returns the headers of one attempt. X-UniAsset-Signature is the
// spec's hex HMAC-SHA256 of the raw body keyed by the secret string; the
// webhook-* set is Standard Webhooks (HMAC-SHA256 of "id.timestamp.body" keyed
// by the base64-decoded part of the whsec_ secret), so receivers can use its libraries.
func Headers(secret, deliveryID, event string, body []byte, at time.Time) map[string]string {
	spec := hmac.New(sha256.New, []byte(secret))
	spec.Write(body)

	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		key = []byte(secret) // not a whsec_ secret: fall back to its bytes
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	std := hmac.New(sha256.New, key)
	std.Write([]byte(deliveryID + "." + ts + "."))
	std.Write(body)

	return map[string]string{
		"Content-Type":         "application/json",
		"User-Agent":           "UniAsset-Webhooks/1.0",
		"X-UniAsset-Event":     event,
		"X-UniAsset-Timestamp": isotime.Format(at),
		"X-UniAsset-Signature": hex.EncodeToString(spec.Sum(nil)),
		"webhook-id":           deliveryID,
		"webhook-timestamp":    ts,
		"webhook-signature":    "v1," + base64.StdEncoding.EncodeToString(std.Sum(nil)),
	}
}
