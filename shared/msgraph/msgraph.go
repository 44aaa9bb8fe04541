// Package graph is a small hand-written client for the Microsoft Graph
// endpoints the Entra ID directory sync reads: the organization, security
// groups and the users among a group's transitive members. It follows
// Graph's wire format as documented: every page to the end through
// @odata.nextLink, $select for only the fields used, 429/503/504 retried
// after Retry-After, and errors read by their code. (The generated Graph SDK
// is far larger than these few calls, and a Lambda pays for its size.)
package msgraph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client reads one Microsoft tenant's directory. HTTP must add the tenant's
// bearer token (an oauth2.Transport); BaseURL is Graph's v1.0 root,
// https://graph.microsoft.com/v1.0, or a fake's.
type Client struct {
	HTTP    *http.Client
	BaseURL string
	// Retries is how many times a throttled or unavailable request is tried
	// again (0: DefaultRetries).
	Retries int
	// MaxWait caps one Retry-After wait (0: DefaultMaxWait); a longer one
	// fails the read rather than outlive the caller's budget.
	MaxWait time.Duration
	// Sleep waits; nil is a timer (tests count the waits instead).
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultRetries and DefaultMaxWait bound how long a throttled read waits.
const (
	DefaultRetries = 4
	DefaultMaxWait = 30 * time.Second
)

// Error is an error Graph answered with: its HTTP status and the code and
// message of its body ({"error":{"code","message"}}).
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("graph: %d %s: %s", e.Status, e.Code, e.Message)
}

// Unauthorized reports whether err means the credential no longer works: a
// token Graph refuses (401, InvalidAuthenticationToken) or a permission
// taken away (403, Authorization_RequestDenied) — consent withdrawn.
func Unauthorized(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden)
}

// Organization is the Microsoft tenant.
type Organization struct {
	ID              string   `json:"id"`
	DisplayName     string   `json:"displayName"`
	VerifiedDomains []Domain `json:"verifiedDomains"`
}

// Domain is one of the organization's verified domains.
type Domain struct {
	Name      string `json:"name"`
	IsDefault bool   `json:"isDefault"`
	IsInitial bool   `json:"isInitial"`
}

// DefaultDomain is the organization's default verified domain (else its
// first).
func (o Organization) DefaultDomain() string {
	for _, d := range o.VerifiedDomains {
		if d.IsDefault {
			return d.Name
		}
	}
	if len(o.VerifiedDomains) > 0 {
		return o.VerifiedDomains[0].Name
	}
	return ""
}

// Group is a security group.
type Group struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Description string `json:"description"`
}

// User is a directory user.
type User struct {
	ID                string `json:"id"`
	DisplayName       string `json:"displayName"`
	Mail              string `json:"mail"`
	UserPrincipalName string `json:"userPrincipalName"`
	AccountEnabled    bool   `json:"accountEnabled"`
	UserType          string `json:"userType,omitempty"` // Member or Guest (not read by the sync)
}

// Organization reads the tenant the token belongs to.
func (c *Client) Organization(ctx context.Context) (Organization, error) {
	orgs, err := list[Organization](ctx, c, "/organization?$select=id,displayName,verifiedDomains")
	if err != nil {
		return Organization{}, err
	}
	if len(orgs) != 1 {
		return Organization{}, fmt.Errorf("graph: %d organizations for one token", len(orgs))
	}
	return orgs[0], nil
}

// SecurityGroups lists every security group of the directory.
func (c *Client) SecurityGroups(ctx context.Context) ([]Group, error) {
	return list[Group](ctx, c, "/groups?$filter="+url.QueryEscape("securityEnabled eq true")+"&$select=id,displayName,description&$top=999")
}

// TransitiveUsers lists the users among a group's members, nested groups'
// members included.
func (c *Client) TransitiveUsers(ctx context.Context, groupID string) ([]User, error) {
	return list[User](ctx, c, "/groups/"+url.PathEscape(groupID)+"/transitiveMembers/microsoft.graph.user?$select=id,displayName,mail,userPrincipalName,accountEnabled&$top=999")
}

// page is one page of a collection.
type page[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

// list reads a collection to its last page. A next link must stay under
// BaseURL: the transport adds the token to any request, so a link elsewhere
// would hand it to another host.
func list[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	var out []T
	root := strings.TrimSuffix(c.BaseURL, "/")
	next := root + path
	for next != "" {
		var p page[T]
		if err := c.get(ctx, next, &p); err != nil {
			return nil, err
		}
		out = append(out, p.Value...)
		next = p.NextLink
		if next != "" && !strings.HasPrefix(next, root+"/") {
			return nil, fmt.Errorf("graph: a next link outside %s", c.BaseURL)
		}
	}
	return out, nil
}

// get reads one URL into out, trying a throttled or unavailable request
// again after the wait Graph asks for.
func (c *Client) get(ctx context.Context, u string, out any) error {
	retries := c.Retries
	if retries == 0 {
		retries = DefaultRetries
	}
	for try := 0; ; try++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := c.HTTP.Do(req)
		if err != nil {
			return fmt.Errorf("graph: %w", err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("graph: reading a page: %w", err)
		}
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(body, out); err != nil {
				return fmt.Errorf("graph: a page that is not JSON: %w", err)
			}
			return nil
		}
		gerr := &Error{Status: resp.StatusCode}
		var eb struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &eb) == nil {
			gerr.Code, gerr.Message = eb.Error.Code, eb.Error.Message
		}
		retryable := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout
		if !retryable || try >= retries {
			return gerr
		}
		wait := c.retryAfter(resp.Header.Get("Retry-After"), try)
		if dl, ok := ctx.Deadline(); wait < 0 || (ok && time.Until(dl) < wait) {
			return gerr // a wait past the caller's deadline would only end in its timeout
		}
		if err := c.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// retryAfter is the wait Graph asked for (seconds), else an exponential
// one; -1 when it asks for more than MaxWait.
func (c *Client) retryAfter(header string, try int) time.Duration {
	maxWait := c.MaxWait
	if maxWait == 0 {
		maxWait = DefaultMaxWait
	}
	wait := time.Duration(1<<try) * time.Second
	if s, err := strconv.Atoi(strings.TrimSpace(header)); err == nil && s >= 0 {
		wait = time.Duration(s) * time.Second
	}
	if wait > maxWait {
		return -1
	}
	return wait
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
