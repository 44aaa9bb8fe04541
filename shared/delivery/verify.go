package delivery

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/uniasset/integrations/shared/webhook"
)

// ChallengeHeader carries the value an endpoint echoes to prove it is
// its owner's (UniFi's event hooks do the same with x-uid-challenge).
const ChallengeHeader = "X-UniAsset-Challenge"

// ChallengeTimeout is how long an endpoint has to answer a challenge: the
// timeout of the client Challenge is given.
const ChallengeTimeout = 10 * time.Second

// challengeAnswer bounds what is read of an answer: the echo is one short
// JSON object.
const challengeAnswer = 4 << 10

// NewChallenge returns a fresh challenge value: 32 random bytes, base64url.
func NewChallenge() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Challenge asks w's endpoint to prove it is the Owner's: a GET carrying
// value in ChallengeHeader (and the webhook's custom headers, which an
// endpoint behind an authenticating proxy needs), answered by a 2xx whose
// body is {"verification": value}. client is the deliveries' SSRF-safe
// client (safehttp) with ChallengeTimeout, so a challenge reaches no
// address a delivery could not and waits no longer. The error says what was wrong, in words fit
// for the Owner: never the endpoint's body.
func Challenge(ctx context.Context, client *http.Client, w webhook.Webhook, value string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.URL, nil)
	if err != nil {
		return errors.New("invalid URL")
	}
	for name, v := range w.Headers {
		req.Header.Set(name, v)
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "application/json")
	req.Header.Set(ChallengeHeader, value)
	resp, err := client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("timeout: no answer within %v", ChallengeTimeout)
		}
		return describe(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the endpoint answered HTTP %d; a 2xx is required", resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, challengeAnswer+1))
	if err != nil {
		return describe(err)
	}
	if len(raw) > challengeAnswer {
		return fmt.Errorf("the answer is over %d bytes", challengeAnswer)
	}
	var answer struct {
		Verification *string `json:"verification"`
	}
	if json.Unmarshal(raw, &answer) != nil || answer.Verification == nil {
		return fmt.Errorf(`the answer is not a JSON object {"verification": "<the %s value>"}`, ChallengeHeader)
	}
	if subtle.ConstantTimeCompare([]byte(*answer.Verification), []byte(value)) != 1 {
		return fmt.Errorf("the verification value does not match the %s header", ChallengeHeader)
	}
	return nil
}
