package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/dynamo"
)

// An item's or a tenant's own failures are poison; an outage of ours is not.
func TestPoisoned(t *testing.T) {
	var typed struct{ Events []string }
	decodeErr := attributevalue.UnmarshalMap(map[string]types.AttributeValue{"Events": &types.AttributeValueMemberN{Value: "7"}}, &typed)
	_, jsonErr := json.Marshal(math.Inf(1))
	for _, c := range []struct {
		name   string
		err    error
		poison bool
		reason string
	}{
		{"item over 400 KB", dynamo.Translate("create delivery", &smithy.GenericAPIError{Code: "ValidationException", Message: "Item size has exceeded the maximum allowed size"}), true, "Item size has exceeded"},
		{"webhook that does not decode", fmt.Errorf("list webhooks: %w", decodeErr), true, "does not decode"},
		{"payload that does not encode", jsonErr, true, "cannot be encoded"},
		{"unreadable item", unreadable(errors.New("odd")), true, "cannot be read"},
		{"throttled", dynamo.Translate("mark alert", &smithy.GenericAPIError{Code: "ThrottlingException"}), false, ""},
		{"throttled, translated", apierror.New(apierror.Throttled, "busy"), false, ""},
		{"service error", &smithy.GenericAPIError{Code: "InternalServerError"}, false, ""},
		{"network", errors.New("dial tcp: connection refused"), false, ""},
		{"out of time", context.DeadlineExceeded, false, ""},
		{"none", nil, false, ""},
	} {
		reason, ok := Poisoned(c.err)
		if ok != c.poison || !strings.Contains(reason, c.reason) {
			t.Errorf("%s: Poisoned = %q, %v; want %v with %q", c.name, reason, ok, c.poison, c.reason)
		}
	}
	if reason, _ := Poisoned(fmt.Errorf("x: %w", &attributevalue.UnmarshalError{Value: "whsec_secret", Err: errors.New("bad")})); strings.Contains(reason, "whsec_secret") {
		t.Errorf("the reason carries the item's value: %q", reason)
	}
}

// A kept alert waits a pass's interval, doubling, at most 6 hours.
func TestRetryAfter(t *testing.T) {
	for n, want := range map[int]time.Duration{0: 15 * time.Minute, 1: 15 * time.Minute, 2: 30 * time.Minute, 3: time.Hour, 5: 4 * time.Hour, 6: 6 * time.Hour, 40: 6 * time.Hour} {
		if got := RetryAfter(n); got != want {
			t.Errorf("RetryAfter(%d) = %s, want %s", n, got, want)
		}
	}
}
