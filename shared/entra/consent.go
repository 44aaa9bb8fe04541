package entra

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"golang.org/x/oauth2"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/msgraph"
	"github.com/uniasset/integrations/shared/systemlog"
)

// Consent connects a Microsoft tenant in two steps through one callback,
// each with a single-use state bound to the UniAsset tenant and user:
//
//  1. Sign-in (OpenID Connect, authorization code with PKCE): the code is
//     redeemed at Microsoft's token endpoint for an ID token, which proves
//     the Microsoft tenant (tid) and user (oid) of whoever signed in, and
//     the directory roles they hold (wids): only a Global or Privileged
//     Role Administrator, who could grant the consent, goes on.
//  2. Admin consent, asked of that tenant only. Its redirect carries no
//     proof of its own, so it is believed only for the tenant step 1
//     proved; the consent is then proven by a client-credentials token for
//     that tenant reading /organization, and the user by reading them:
//     an enabled member, not a guest.
//
// So a tenant parameter edited in the redirect fails, even to a directory
// that consented to the app for someone else, and a directory's ordinary
// member cannot reuse a consent an admin gave before: connecting a
// directory takes signing in to it as someone who could consent.
// (Microsoft's own advice is to sign the admin in before asking for
// consent.)
type Consent struct {
	Store     *Store
	Microsoft *Microsoft
	TTL       time.Duration
	Now       func() time.Time
}

// Connect steps, as a state records them.
const (
	stageSignIn  = "signin"
	stageConsent = "consent"
)

func secret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Begin starts a connect and returns Microsoft's sign-in URL, valid for
// TTL. hint is the Microsoft tenant to sign in to ("" lets the user's
// account choose).
func (c *Consent) Begin(ctx context.Context, tenantID, subject, redirectURI, hint string) (signInURL string, expires time.Time, err error) {
	if hint == "" {
		hint = "organizations"
	}
	state, verifier, nonce := secret(), oauth2.GenerateVerifier(), secret()
	expires = c.Now().Add(c.TTL)
	req := consentRequest{TenantID: tenantID, Subject: subject, Stage: stageSignIn, RedirectURI: redirectURI,
		SignInTenant: hint, Verifier: verifier, Nonce: nonce}
	if err := c.Store.PutState(ctx, hashState(state), req, expires); err != nil {
		return "", time.Time{}, err
	}
	return c.Microsoft.Tokens.App.SignInURL(hint, redirectURI, state, nonce, verifier), expires, nil
}

// hashState is how a state is stored: a read of the table cannot replay one.
func hashState(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:])
}

// Callback outcomes, passed back to the UI as ?entra=<outcome>.
const (
	OutcomeConnected     = "connected"
	OutcomeInvalidState  = "invalid_state"   // missing, forged, used or expired state, or a step out of order
	OutcomeRefused       = "refused"         // the admin declined, or Microsoft reported an error
	OutcomeSignInFailed  = "sign_in_failed"  // the sign-in's code or ID token did not hold
	OutcomeNotConsented  = "not_consented"   // no token for the tenant: consent is not in place
	OutcomeTenantChanged = "tenant_mismatch" // the consent names another tenant than the sign-in or the token
	OutcomeNotAdmin      = "not_an_admin"    // who signed in cannot grant the app's consent
	OutcomeNotMember     = "not_a_member"    // who signed in is a guest, disabled, or gone from the directory
	OutcomeClaimed       = "already_connected_elsewhere"
	OutcomeOtherTenant   = "connected_to_another_tenant"
	OutcomeChanged       = "connection_changed" // other connects kept finishing at the same moment
	OutcomeUnavailable   = "microsoft_unavailable"
)

// Completion is what the callback did: an outcome, or Next, the URL to
// send the browser to for the next step.
type Completion struct {
	Outcome  string
	TenantID string // the UniAsset tenant, when the state was good
	Message  string
	Next     string
}

// outcomeReserve is what a callback keeps of its invocation's time after
// its calls to Microsoft, to write its outcome (a System entry, the next
// state, or the connection and its first sync job) and redirect.
const outcomeReserve = 3 * time.Second

// microsoftBudget bounds a callback's calls to Microsoft, whatever
// Microsoft does (hangs, long Retry-After, retried 5xx): they end while the
// invocation has outcomeReserve left before its deadline (Lambda's context
// carries it), else within graphTimeout.
func microsoftBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, dl.Add(-outcomeReserve))
	}
	return context.WithTimeout(ctx, graphTimeout)
}

// Complete handles Microsoft's redirect. It checks the state first (so
// nothing else in the request is believed from a stranger), treats an
// error parameter as a refusal, then runs the step the state is for.
//
// The state is spent once taken, even when Microsoft then fails or runs
// out the budget: a state is single-use (a replayed redirect must not run
// a step twice, and a sign-in's code cannot be redeemed twice anyway), so
// such a callback ends as microsoft_unavailable, with a System entry, and
// the Owner starts the connect again.
func (c *Consent) Complete(ctx context.Context, q url.Values) (Completion, error) {
	state := q.Get("state")
	if state == "" || len(state) > 256 {
		return Completion{Outcome: OutcomeInvalidState, Message: "the connect request is missing its state"}, nil
	}
	req, ok, err := c.Store.TakeState(ctx, hashState(state), c.Now())
	if err != nil {
		return Completion{}, err
	}
	if !ok || (req.Stage != stageSignIn && req.Stage != stageConsent) {
		return Completion{Outcome: OutcomeInvalidState, Message: "the connect request is unknown, already used or expired; start again"}, nil
	}
	step := &connectStep{Consent: c, req: req}
	if e := q.Get("error"); e != "" {
		return step.fail(ctx, OutcomeRefused, "Microsoft reported "+printable(e, 64)+": "+printable(q.Get("error_description"), 300), "")
	}
	if req.Stage == stageSignIn {
		return step.signedIn(ctx, q.Get("code"))
	}
	return step.consented(ctx, q)
}

// connectStep is one callback of a connect.
type connectStep struct {
	*Consent
	req consentRequest
}

// fail ends the connect with outcome and a System entry saying why.
func (s *connectStep) fail(ctx context.Context, outcome, msg, microsoftTenantID string) (Completion, error) {
	entry := systemlog.Entry{TenantID: s.req.TenantID, Event: "entra.connect_failed", ResourceType: ResourceType, ResourceID: microsoftTenantID,
		Status: outcome, Details: msg + " (started by " + s.req.Subject + ")"}
	if err := s.Store.Note(ctx, entry, s.Now()); err != nil {
		return Completion{}, err
	}
	return Completion{Outcome: outcome, TenantID: s.req.TenantID, Message: msg}, nil
}

// signedIn redeems the sign-in's code and sends the browser on to admin
// consent for the tenant the ID token names.
func (s *connectStep) signedIn(ctx context.Context, code string) (Completion, error) {
	if code == "" || len(code) > 8192 {
		return s.fail(ctx, OutcomeSignInFailed, "Microsoft's sign-in returned no code", "")
	}
	app := s.Microsoft.Tokens.App
	mctx, cancel := microsoftBudget(ctx)
	defer cancel()
	id, err := app.Redeem(mctx, s.Microsoft.Tokens.Base, s.req.SignInTenant, s.req.RedirectURI, code, s.req.Verifier, s.req.Nonce, s.Now())
	var re *oauth2.RetrieveError
	switch {
	case errors.Is(err, msgraph.ErrIdentity):
		return s.fail(ctx, OutcomeSignInFailed, err.Error(), "")
	case errors.As(err, &re) && re.ErrorCode == "invalid_client":
		// The app's own secret: the operator's to fix, not the admin's.
		return s.fail(ctx, OutcomeUnavailable, classify(err).Reason, "")
	case errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500:
		return s.fail(ctx, OutcomeSignInFailed, "Microsoft did not accept the sign-in ("+printable(re.ErrorCode, 64)+")", "")
	case err != nil:
		return s.unavailable(ctx, mctx, "the sign-in could not be redeemed", err, "")
	case !ValidGUID(id.TenantID) || !ValidGUID(id.ObjectID):
		return s.fail(ctx, OutcomeSignInFailed, "the ID token names no Microsoft tenant or user", "")
	case s.req.SignInTenant != "organizations" && id.TenantID != s.req.SignInTenant:
		return s.fail(ctx, OutcomeTenantChanged, "the sign-in was in another Microsoft tenant than the connected one", id.TenantID)
	case !id.CanConsent():
		// Consent an admin gave earlier stays in the directory (after a
		// disconnect, or a consent never finished): without this, any
		// member could connect it by signing in.
		return s.fail(ctx, OutcomeNotAdmin, printable(id.Username, 256)+" holds no directory role that can grant the app's consent "+
			"(Global Administrator or Privileged Role Administrator)", id.TenantID)
	}
	state := secret()
	next := consentRequest{TenantID: s.req.TenantID, Subject: s.req.Subject, Stage: stageConsent, RedirectURI: s.req.RedirectURI,
		MicrosoftTenantID: id.TenantID, ObjectID: id.ObjectID, Username: printable(id.Username, 256)}
	if err := s.Store.PutState(ctx, hashState(state), next, s.Now().Add(s.TTL)); err != nil {
		return Completion{}, err
	}
	q := url.Values{"client_id": {app.ClientID}, "scope": {msgraph.Scope}, "redirect_uri": {s.req.RedirectURI}, "state": {state}}
	return Completion{TenantID: s.req.TenantID, Next: strings.TrimSuffix(app.LoginURL, "/") + "/" + id.TenantID + "/v2.0/adminconsent?" + q.Encode()}, nil
}

// consented checks the admin consent's redirect against the tenant the
// sign-in proved, proves the consent and the user, and connects.
func (s *connectStep) consented(ctx context.Context, q url.Values) (Completion, error) {
	microsoftTenantID := s.req.MicrosoftTenantID
	if !strings.EqualFold(q.Get("admin_consent"), "true") {
		return s.fail(ctx, OutcomeRefused, "Microsoft did not report admin consent", microsoftTenantID)
	}
	if !strings.EqualFold(q.Get("tenant"), microsoftTenantID) {
		return s.fail(ctx, OutcomeTenantChanged, "the consent names another Microsoft tenant than the one "+s.req.Username+" signed in to", microsoftTenantID)
	}
	mctx, cancel := microsoftBudget(ctx)
	defer cancel()
	// The proof is a token issued now: a cached one predates this consent.
	client, err := s.Microsoft.FreshClient(mctx, microsoftTenantID)
	var org msgraph.Organization
	if err == nil {
		org, err = client.Organization(mctx)
	}
	var user msgraph.User
	var ge *msgraph.Error
	if err == nil {
		user, err = client.User(mctx, s.req.ObjectID)
		if errors.As(err, &ge) && ge.Status == http.StatusNotFound {
			return s.fail(ctx, OutcomeNotMember, s.req.Username+" is not a user of that directory", microsoftTenantID)
		}
	}
	switch {
	case err != nil:
		s.Microsoft.Tokens.Forget(microsoftTenantID)
		if u := classify(err); u.Status == ReauthRequired {
			slog.Warn("entra connect: the tenant could not be proven", "tenant", s.req.TenantID, "reason", u.Reason)
			return s.fail(ctx, OutcomeNotConsented, "Microsoft gives the app no access to that tenant: "+u.Reason, microsoftTenantID)
		}
		return s.unavailable(ctx, mctx, "the tenant could not be proven", err, microsoftTenantID)
	case !strings.EqualFold(org.ID, microsoftTenantID):
		return s.fail(ctx, OutcomeTenantChanged, "the tenant Microsoft issued the token for is not the one signed in to", microsoftTenantID)
	case user.UserType != "Member" || !user.AccountEnabled:
		return s.fail(ctx, OutcomeNotMember, s.req.Username+" is not an enabled member of that directory (a guest or disabled account cannot connect it)", microsoftTenantID)
	}
	org.ID = microsoftTenantID
	err = s.Store.Connect(ctx, s.req.TenantID, s.req.Subject, s.req.Username, org, s.Now())
	for try := 0; errors.Is(err, ErrRaced) && try < 3; try++ {
		// Two connects finishing at once (a double click, two tabs): the
		// second reads what the first wrote and settles as it would after it.
		err = s.Store.Connect(ctx, s.req.TenantID, s.req.Subject, s.req.Username, org, s.Now())
	}
	switch {
	case errors.Is(err, ErrClaimed):
		return s.fail(ctx, OutcomeClaimed, "that Microsoft tenant is connected to another UniAsset account", microsoftTenantID)
	case errors.Is(err, ErrOtherTenant):
		return s.fail(ctx, OutcomeOtherTenant, "this account is connected to another Microsoft tenant; disconnect it first", microsoftTenantID)
	case errors.Is(err, ErrRaced):
		return s.fail(ctx, OutcomeChanged, "the connection kept changing while this connect finished; connect again", microsoftTenantID)
	case err != nil:
		return Completion{}, err
	}
	return Completion{Outcome: OutcomeConnected, TenantID: s.req.TenantID, Message: "connected to " + org.DefaultDomain()}, nil
}

// unavailable ends the connect as microsoft_unavailable: Microsoft failed,
// or did not answer within the budget mctx had (ctx, the invocation's,
// still has time to write the System entry).
func (s *connectStep) unavailable(ctx, mctx context.Context, what string, err error, microsoftTenantID string) (Completion, error) {
	var ge *msgraph.Error
	reason := classify(err).Reason
	switch {
	case mctx.Err() != nil:
		reason = "Microsoft did not answer in time"
	case errors.As(err, &ge):
		reason = fmt.Sprintf("Microsoft Graph answered %d %s", ge.Status, ge.Code)
	}
	slog.Warn("entra connect: "+what, "tenant", s.req.TenantID, "reason", reason)
	return s.fail(ctx, OutcomeUnavailable, reason+"; nothing was connected: start the connect again", microsoftTenantID)
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
	item, err := systemlog.Item(e, now, s.Retention)
	if err != nil {
		return err
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item})
	return dynamo.Translate("write system entry", err)
}
