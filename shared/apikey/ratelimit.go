package apikey

import (
	"fmt"
	"time"

	"github.com/uniasset/integrations/shared/validate"
)

// RateLimit is a key's own limit on its requests, on top of its tenant's:
// at most Requests a Per ("second" or "minute") on average, and as many at
// once after a rest. Every key of a tenant still shares the tenant's limit.
type RateLimit struct {
	Requests int    `json:"requests" dynamodbav:"requests"`
	Per      string `json:"per" dynamodbav:"per"`
}

// Rate-limit bounds: a second's requests cannot pass the tenant's highest
// limit (1,000 a second); a minute's, sixty times that.
const (
	MaxRequestsPerSecond = 1000
	MaxRequestsPerMinute = 60 * MaxRequestsPerSecond
)

// Period is the time Requests are counted over.
func (r RateLimit) Period() time.Duration {
	if r.Per == "minute" {
		return time.Minute
	}
	return time.Second
}

// check adds what is wrong with r to p.
func (r *RateLimit) check(p *validate.Problems, field string) {
	if r == nil {
		return
	}
	switch r.Per {
	case "second":
		if r.Requests < 1 || r.Requests > MaxRequestsPerSecond {
			p.Add(field+".requests", fmt.Sprintf("must be a whole number from 1 to %d a second", MaxRequestsPerSecond))
		}
	case "minute":
		if r.Requests < 1 || r.Requests > MaxRequestsPerMinute {
			p.Add(field+".requests", fmt.Sprintf("must be a whole number from 1 to %d a minute", MaxRequestsPerMinute))
		}
	default:
		p.Add(field+".per", `must be "second" or "minute"`)
	}
}

// OwnLimit is the key's rate limit and the name its state goes by (nil:
// the key has none). A rolled key keeps its predecessor's limit and its
// state: during the overlap both keys draw on one budget, so a roll never
// doubles what a key may send.
func (k Key) OwnLimit() (*RateLimit, string) {
	if k.RateLimit == nil {
		return nil, ""
	}
	if k.LimitID != "" {
		return k.RateLimit, k.LimitID
	}
	return k.RateLimit, k.ID
}
