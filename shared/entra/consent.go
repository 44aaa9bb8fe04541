package entra

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/graph"
	"github.com/uniasset/integrations/shared/systemlog"
)

// Consent runs Microsoft's admin-consent flow for a multi-tenant app.
type Consent struct {
	Store     *Store
	Microsoft *Microsoft
	LoginURL  string // https://login.microsoftonline.com, or a fake's
	TTL       time.Duration
	Now       func() time.Time
}

// Begin makes a single-use state bound to the tenant and user, valid for
// TTL, and returns Microsoft's admin-consent URL carrying it. hint is the
// Microsoft tenant to consent in ("" lets the admin's sign-in choose).
func (c *Consent) Begin(ctx context.Context, tenantID, subject, redirectURI, hint string) (consentURL string, expires time.Time, err error) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	state := base64.RawURLEncoding.EncodeToString(b[:])
	expires = c.Now().Add(c.TTL)
	if err := c.Store.PutState(ctx, hashState(state), tenantID, subject, expires); err != nil {
		return "", time.Time{}, err
	}
	if hint == "" {
		hint = "organizations"
	}
	q := url.Values{
		"client_id": {c.Microsoft.Tokens.App.ClientID}, "scope": {graph.Scope},
		"redirect_uri": {redirectURI}, "state": {state},
	}
	return strings.TrimSuffix(c.LoginURL, "/") + "/" + hint + "/v2.0/adminconsent?" + q.Encode(), expires, nil
}

// hashState is how a state is stored: a read of the table cannot replay one.
func hashState(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:])
}

// Callback outcomes, passed back to the UI as ?entra=<outcome>.
const (
	OutcomeConnected     = "connected"
	OutcomeInvalidState  = "invalid_state"   // missing, forged, used or expired state
	OutcomeRefused       = "refused"         // the admin declined, or Microsoft reported an error
	OutcomeNotConsented  = "not_consented"   // no token for the tenant: consent is not in place
	OutcomeTenantChanged = "tenant_mismatch" // the tenant parameter is not the tenant the token reads
	OutcomeClaimed       = "already_connected_elsewhere"
	OutcomeOtherTenant   = "connected_to_another_tenant"
	OutcomeUnavailable   = "microsoft_unavailable"
)

// Completion is what the callback did.
type Completion struct {
	Outcome  string
	TenantID string // the UniAsset tenant, when the state was good
	Message  string
}

// Complete handles Microsoft's redirect. It checks the state first (so
// nothing else in the request is believed from a stranger), treats an
// error parameter as a refusal, and proves the tenant parameter by getting
// a client-credentials token for that tenant and reading its organization:
// the id Graph returns must be the one the redirect named.
func (c *Consent) Complete(ctx context.Context, q url.Values) (Completion, error) {
	state := q.Get("state")
	if state == "" || len(state) > 256 {
		return Completion{Outcome: OutcomeInvalidState, Message: "the consent request is missing its state"}, nil
	}
	req, ok, err := c.Store.TakeState(ctx, hashState(state), c.Now())
	if err != nil {
		return Completion{}, err
	}
	if !ok {
		return Completion{Outcome: OutcomeInvalidState, Message: "the consent request is unknown, already used or expired; start again"}, nil
	}
	done := Completion{TenantID: req.TenantID}
	fail := func(outcome, msg, ms string) (Completion, error) {
		done.Outcome, done.Message = outcome, msg
		entry := systemlog.Entry{TenantID: req.TenantID, Event: "entra.connect_failed", ResourceType: ResourceType, ResourceID: ms,
			Status: outcome, Details: msg + " (started by " + req.Subject + ")"}
		if err := c.Store.Note(ctx, entry, c.Now()); err != nil {
			return Completion{}, err
		}
		return done, nil
	}
	if e := q.Get("error"); e != "" {
		return fail(OutcomeRefused, "Microsoft reported "+printable(e, 64)+": "+printable(q.Get("error_description"), 300), "")
	}
	if !strings.EqualFold(q.Get("admin_consent"), "true") {
		return fail(OutcomeRefused, "Microsoft did not report admin consent", "")
	}
	ms := strings.ToLower(q.Get("tenant"))
	if !ValidGUID(ms) {
		return fail(OutcomeTenantChanged, "the redirect's tenant parameter is not a Microsoft tenant id", "")
	}
	// The proof is a token issued now: a cached one predates this consent.
	c.Microsoft.Tokens.Forget(ms)
	org, err := c.Microsoft.Client(ms).Organization(ctx)
	if err != nil {
		u := classify(err)
		c.Microsoft.Tokens.Forget(ms)
		slog.Warn("entra connect: the tenant could not be proven", "tenant", req.TenantID, "reason", u.Reason)
		if u.Status == ReauthRequired {
			return fail(OutcomeNotConsented, "Microsoft gives the app no access to that tenant: "+u.Reason, ms)
		}
		return fail(OutcomeUnavailable, u.Reason, ms)
	}
	if !strings.EqualFold(org.ID, ms) {
		return fail(OutcomeTenantChanged, "the tenant parameter does not match the tenant Microsoft issued the token for", ms)
	}
	org.ID = ms
	switch err := c.Store.Connect(ctx, req.TenantID, req.Subject, org, c.Now()); {
	case errors.Is(err, ErrClaimed):
		return fail(OutcomeClaimed, "that Microsoft tenant is connected to another UniAsset account", ms)
	case errors.Is(err, ErrOtherTenant):
		return fail(OutcomeOtherTenant, "this account is connected to another Microsoft tenant; disconnect it first", ms)
	case err != nil:
		return Completion{}, err
	}
	done.Outcome, done.Message = OutcomeConnected, "connected to "+org.DefaultDomain()
	return done, nil
}

// printable keeps text from a redirect fit for the Activity Log: control
// characters dropped, at most n runes.
func printable(s string, n int) string {
	var b strings.Builder
	for i, r := range []rune(s) {
		if i == n {
			b.WriteString("…")
			break
		}
		if unicode.IsPrint(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Note writes one System entry.
func (s *Store) Note(ctx context.Context, e systemlog.Entry, now time.Time) error {
	item, err := systemlog.Item(e, now)
	if err != nil {
		return err
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item})
	return dynamo.Translate("write system entry", err)
}
