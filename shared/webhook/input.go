package webhook

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/uniasset/integrations/shared/safehttp"
	"github.com/uniasset/integrations/shared/validate"
)

const (
	maxName        = 100
	maxDescription = 500
	maxHeaders     = 10
	maxHeaderValue = 1024
	// MaxPerTenant bounds the fan-out of one event.
	MaxPerTenant = 50
	// MaxRateLimit is the highest rateLimit a webhook may ask for.
	MaxRateLimit = 1000
)

var headerName = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")

// reservedHeaders are set by the dispatcher or by HTTP itself; a custom header may not replace them.
var reservedHeaders = []string{"host", "content-type", "content-length", "content-encoding", "transfer-encoding",
	"connection", "keep-alive", "te", "trailer", "upgrade", "expect", "user-agent", "proxy-authorization", "proxy-connection"}

func reserved(name string) bool {
	n := strings.ToLower(name)
	if strings.HasPrefix(n, "x-uniasset-") || strings.HasPrefix(n, "webhook-") {
		return true
	}
	for _, r := range reservedHeaders {
		if n == r {
			return true
		}
	}
	return false
}

// CreateInput is the body of POST /webhooks.
type CreateInput struct {
	Name        string            `json:"name"`
	URL         string            `json:"url"`
	Events      []string          `json:"events"`
	Description *string           `json:"description"`
	Headers     map[string]string `json:"headers"`
	RateLimit   *int              `json:"rateLimit"`
	// Status is "active" (the default) or "paused": a webhook created paused
	// gets nothing queued until it is resumed, so an Owner can set up the
	// receiver first. Only /pause and /resume change it later.
	Status string `json:"status"`
	// Secret is the signing secret the caller chose (a receiver moving
	// from another provider keeps its own): whsec_ and the base64 of 24 to
	// 64 random bytes. Without it one is made.
	Secret *string `json:"secret"`
	// Filter limits the webhook to part of the tenant's assets.
	Filter *Scope `json:"filter"`
}

// UpdateInput is the body of PATCH /webhooks/{id}: only the fields given change.
// headers, when given, replaces all custom headers ({} removes them).
type UpdateInput struct {
	Name        *string            `json:"name"`
	URL         *string            `json:"url"`
	Events      []string           `json:"events"`
	Description *string            `json:"description"`
	Headers     *map[string]string `json:"headers"`
	RateLimit   *int               `json:"rateLimit"`
	// Filter replaces the scope; {} removes it.
	Filter *Scope `json:"filter"`
}

type checker struct{ validate.Problems }

func (c *checker) text(field, s string, max int, required bool) string {
	kind := validate.Line
	if field == "description" {
		kind = validate.Multiline
	}
	return c.Text(field, s, kind, max, required)
}

func (c *checker) events(events []string) []string {
	if len(events) == 0 {
		c.Add("events", "select at least one event")
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for i, e := range events {
		switch {
		case !KnownEvent(e):
			c.Add(fmt.Sprintf("events[%d]", i), fmt.Sprintf("unknown event %q", e))
		case seen[e]:
			c.Add(fmt.Sprintf("events[%d]", i), fmt.Sprintf("duplicate event %q", e))
		default:
			out = append(out, e)
		}
		seen[e] = true
	}
	return out
}

func (c *checker) headers(h map[string]string) map[string]string {
	if len(h) > maxHeaders {
		c.Add("headers", fmt.Sprintf("at most %d custom headers", maxHeaders))
		return nil
	}
	out := map[string]string{}
	seen := map[string]bool{}
	for name, value := range h {
		field := "headers." + name
		lower := strings.ToLower(name)
		switch {
		case !headerName.MatchString(name):
			c.Add(field, "is not a valid header name")
		case reserved(name):
			c.Add(field, "is set by UniAsset and cannot be replaced")
		case seen[lower]:
			c.Add(field, "is given twice (header names are case-insensitive)")
		case len(value) > maxHeaderValue:
			c.Add(field, fmt.Sprintf("value must be at most %d bytes", maxHeaderValue))
		case !utf8.ValidString(value) || strings.ContainsFunc(value, func(r rune) bool { return r != '\t' && validate.Forbidden(r, validate.Line) }):
			c.Add(field, "value must not contain CR, LF, other control characters or invisible formatting characters")
		default:
			out[name] = value
		}
		seen[lower] = true
	}
	return out
}

// filter checks a scope; an empty one is none (nil).
func (c *checker) filter(s *Scope) *Scope {
	if s == nil {
		return nil
	}
	s.check(&c.Problems, "filter")
	if s.Empty() {
		return nil
	}
	return s
}

func (c *checker) rate(n *int) {
	if n != nil && (*n < 1 || *n > MaxRateLimit) {
		c.Add("rateLimit", fmt.Sprintf("must be a whole number of deliveries a second from 1 to %d", MaxRateLimit))
	}
}

func (c *checker) url(ctx context.Context, p safehttp.Policy, raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		c.Add("url", "is required")
		return raw
	}
	if err := p.CheckURL(ctx, raw); err != nil {
		c.Add("url", err.Error())
	}
	return raw
}

// Validate checks a create body; the URL must be https and resolve to public addresses.
func (in *CreateInput) Validate(ctx context.Context, p safehttp.Policy) error {
	c := &checker{}
	in.Name = c.text("name", in.Name, maxName, true)
	in.URL = c.url(ctx, p, in.URL)
	in.Events = c.events(in.Events)
	if in.Description != nil {
		d := c.text("description", *in.Description, maxDescription, false)
		in.Description = &d
	}
	in.Headers = c.headers(in.Headers)
	c.rate(in.RateLimit)
	in.Filter = c.filter(in.Filter)
	if in.Secret != nil && !ValidSecret(*in.Secret) {
		c.Add("secret", "must be whsec_ followed by the base64 of 24 to 64 random bytes")
	}
	switch in.Status {
	case "":
		in.Status = Active
	case Active, Paused:
	default:
		c.Add("status", "must be active or paused")
	}
	return c.Err()
}

// Validate checks an edit body.
func (in *UpdateInput) Validate(ctx context.Context, p safehttp.Policy) error {
	c := &checker{}
	if in.Name != nil {
		n := c.text("name", *in.Name, maxName, true)
		in.Name = &n
	}
	if in.URL != nil {
		u := c.url(ctx, p, *in.URL)
		in.URL = &u
	}
	if in.Events != nil {
		in.Events = c.events(in.Events)
	}
	if in.Description != nil {
		d := c.text("description", *in.Description, maxDescription, false)
		in.Description = &d
	}
	if in.Headers != nil {
		h := c.headers(*in.Headers)
		in.Headers = &h
	}
	c.rate(in.RateLimit)
	if in.Filter != nil {
		in.Filter = c.filter(in.Filter)
		if in.Filter == nil {
			in.Filter = &Scope{} // {}: remove the filter
		}
	}
	if in.Name == nil && in.URL == nil && in.Events == nil && in.Description == nil && in.Headers == nil && in.RateLimit == nil && in.Filter == nil {
		c.Add("body", "give at least one of name, url, events, description, headers, rateLimit, filter")
	}
	return c.Err()
}
