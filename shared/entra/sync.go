package entra

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"time"

	"golang.org/x/oauth2"

	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/msgraph"
	"github.com/uniasset/integrations/shared/parallel"
	"github.com/uniasset/integrations/shared/systemlog"
	"github.com/uniasset/integrations/shared/tenant"
)

// Microsoft reaches Microsoft's login and Graph as the app.
type Microsoft struct {
	Tokens   *msgraph.Tokens
	GraphURL string // https://graph.microsoft.com/v1.0, or a fake's
	// Retries and MaxWait tune msgraph.Client (0: its defaults).
	Retries int
	MaxWait time.Duration
	Sleep   func(ctx context.Context, d time.Duration) error
}

// Client reads the directory of Microsoft tenant microsoftTenantID.
func (m *Microsoft) Client(microsoftTenantID string) *msgraph.Client {
	return &msgraph.Client{HTTP: m.Tokens.HTTPClient(microsoftTenantID), BaseURL: m.GraphURL, Retries: m.Retries, MaxWait: m.MaxWait, Sleep: m.Sleep}
}

// FreshClient reads the directory of Microsoft tenant microsoftTenantID with a token
// asked for now, within ctx.
func (m *Microsoft) FreshClient(ctx context.Context, microsoftTenantID string) (*msgraph.Client, error) {
	hc, err := m.Tokens.Fresh(ctx, microsoftTenantID)
	if err != nil {
		return nil, err
	}
	return &msgraph.Client{HTTP: hc, BaseURL: m.GraphURL, Retries: m.Retries, MaxWait: m.MaxWait, Sleep: m.Sleep}, nil
}

// Configured reports whether the app has a client id: without one no
// tenant can connect.
func (m *Microsoft) Configured() bool { return m.Tokens != nil && m.Tokens.App.ClientID != "" }

// Unreadable is a directory read that failed: Status says whether an Owner
// must reconnect (reauth_required) or the next sync may succeed (error);
// Reason is for people, and holds no token or secret.
type Unreadable struct {
	Status Status
	Reason string
	Err    error
}

func (u *Unreadable) Error() string { return u.Reason }
func (u *Unreadable) Unwrap() error { return u.Err }

// classify turns a failed Microsoft call into the status it means.
func classify(err error) *Unreadable {
	var re *oauth2.RetrieveError
	var ge *msgraph.Error
	switch {
	case errors.As(err, &re) && re.ErrorCode == "invalid_client":
		// The app's own secret was refused: nothing an Owner can fix.
		return &Unreadable{Failing, "Microsoft refused the UniAsset app's credentials (invalid_client); the operator must update the app's client secret", err}
	case msgraph.NoConsent(err):
		code := "refused"
		if errors.As(err, &re) && re.ErrorCode != "" {
			code = re.ErrorCode
		}
		return &Unreadable{ReauthRequired, "Microsoft refused a token for the tenant (" + code + "): the app's consent was withdrawn or never given; an Owner must connect again", err}
	case msgraph.Unauthorized(err):
		errors.As(err, &ge)
		return &Unreadable{ReauthRequired, fmt.Sprintf("Microsoft Graph refused the app's token (%d %s): consent or permissions were withdrawn; an Owner must connect again", ge.Status, ge.Code), err}
	case errors.As(err, &ge):
		return &Unreadable{Failing, fmt.Sprintf("Microsoft Graph answered %d %s; nothing was changed, the next sync tries again", ge.Status, ge.Code), err}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return &Unreadable{Failing, "the directory read ran out of time; nothing was changed", err}
	default:
		var ue *url.Error
		if errors.As(err, &ue) {
			// Never the URL: a next link is Microsoft's, and may carry a skip token.
			return &Unreadable{Failing, "Microsoft could not be reached (" + ue.Op + "); nothing was changed", err}
		}
		return &Unreadable{Failing, "the directory could not be read completely; nothing was changed", err}
	}
}

// Syncer runs one tenant's sync.
type Syncer struct {
	Store     *Store
	Microsoft *Microsoft
	// Plans reads the tenant's plan: a tenant moved below Enterprise is
	// not synced (its accounts stay as the last sync left them) until it
	// returns to Enterprise or its Owner disconnects.
	Plans Plans
	Now   func() time.Time
	// LeaseFor bounds a sync: its lease lasts this long (the function's
	// timeout), so a crashed sync blocks the next one no longer.
	LeaseFor time.Duration
	// GroupReads is how many groups' members are read at once.
	GroupReads int
}

// Directory is what a sync read: every security group, and the users of
// every mapped group that exists.
type Directory struct {
	Groups  []Group
	ByGroup map[string][]msgraph.User
}

// Read reads the directory of connection c: every page of the security
// groups, then every page of each mapped group's transitive users. Any
// failure is an *Unreadable, and nothing read so far is used.
func (s *Syncer) Read(ctx context.Context, c Connection) (Directory, error) {
	d, err := s.read(ctx, c)
	if msgraph.Unauthorized(err) {
		// A cached token Graph refuses (revoked before it expired): one more
		// try with a fresh one before the Owner is told to reconnect.
		s.Microsoft.Tokens.Forget(c.MicrosoftTenantID)
		d, err = s.read(ctx, c)
	}
	if err != nil {
		return Directory{}, s.unreadable(c, err)
	}
	return d, nil
}

func (s *Syncer) read(ctx context.Context, c Connection) (Directory, error) {
	client := s.Microsoft.Client(c.MicrosoftTenantID)
	gs, err := client.SecurityGroups(ctx)
	if err != nil {
		return Directory{}, err
	}
	d := Directory{ByGroup: map[string][]msgraph.User{}}
	exists := map[string]bool{}
	for _, g := range gs {
		d.Groups = append(d.Groups, Group{ID: g.ID, DisplayName: g.DisplayName, Description: g.Description})
		exists[g.ID] = true
	}
	// A mapped group the directory no longer has contributes no one (its
	// members' removals still pass the deletion threshold).
	var mapped []string
	for gid := range c.Mappings {
		if exists[gid] {
			mapped = append(mapped, gid)
		}
	}
	slices.Sort(mapped)
	users := make([][]msgraph.User, len(mapped))
	err = parallel.Each(ctx, len(mapped), max(s.GroupReads, 1), func(ctx context.Context, i int) (err error) {
		users[i], err = client.TransitiveUsers(ctx, mapped[i])
		return err
	})
	if err != nil {
		return Directory{}, err
	}
	for i, gid := range mapped {
		d.ByGroup[gid] = users[i]
	}
	return d, nil
}

func (s *Syncer) unreadable(c Connection, err error) error {
	u := classify(err)
	if u.Status == ReauthRequired {
		s.Microsoft.Tokens.Forget(c.MicrosoftTenantID) // the next try asks for a fresh token
	}
	return u
}

// Plans reads a tenant's profile (tenant.Store).
type Plans interface {
	Get(ctx context.Context, tenantID string) (tenant.Profile, error)
}

// Outcome is what Sync did.
type Outcome struct {
	Ran    bool   // false: not connected, or another sync held the lease
	Busy   bool   // another sync held the lease
	Result Result // counts, or the failure
	Status Status
}

// Sync runs one sync of the tenant. A directory it cannot read completely
// changes no account: the connection's status says why and its groups are
// marked stale. Errors returned are the store's (the job is retried).
func (s *Syncer) Sync(ctx context.Context, tenantID string) (Outcome, error) {
	if s.Plans != nil {
		p, err := s.Plans.Get(ctx, tenantID)
		if err != nil {
			return Outcome{}, err
		}
		if !p.Plan.AtLeast(tenant.Enterprise) {
			slog.Info("entra sync: skipped; the tenant's plan no longer includes directory sync", "tenant", tenantID, "plan", string(p.Plan))
			return Outcome{}, nil
		}
	}
	now := s.Now()
	lease := newLeaseID()
	c, ok, busy, err := s.Store.Acquire(ctx, tenantID, lease, now, now.Add(s.LeaseFor))
	if err != nil || !ok {
		return Outcome{Busy: busy}, err
	}
	out, done, err := s.run(ctx, c, tenantID, lease)
	if !done {
		// Ended by an error of ours: free the tenant for the retry. A
		// context of its own, as the sync's may be what ran out.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := s.Store.Release(rctx, tenantID, lease); err != nil {
			slog.Warn("entra sync: the lease could not be released; it expires by itself", "tenant", tenantID, "error", err.Error())
		}
	}
	return out, err
}

// fullSyncEvery bounds how long a fingerprint lets syncs skip the accounts:
// a daily full sync repairs anything that changed them but a sync.
const fullSyncEvery = 24 * time.Hour

// run is a sync under its lease; done reports that the lease is settled
// (released by Finish, or taken away), so Sync need not release it.
func (s *Syncer) run(ctx context.Context, c Connection, tenantID, lease string) (out Outcome, done bool, err error) {
	f := Finish{TenantID: tenantID, LeaseID: lease, MicrosoftTenantID: c.MicrosoftTenantID, Held: c.Held}
	entry := systemlog.Entry{TenantID: tenantID, Event: "entra.sync", ResourceType: ResourceType, ResourceID: c.MicrosoftTenantID, ResourceName: c.Domain}
	finish := func(status Status) (Outcome, bool, error) {
		f.Entry = entry
		ok, err := s.Store.Finish(ctx, f, s.Now())
		if err == nil && !ok {
			slog.Warn("entra sync: the connection changed during the sync; its result is not recorded", "tenant", tenantID)
		}
		return Outcome{Ran: ok, Result: f.Result, Status: status}, err == nil, err
	}
	dir, err := s.Read(ctx, c)
	var u *Unreadable
	if errors.As(err, &u) {
		f.Status, f.Reason, f.GroupsStale = u.Status, u.Reason, true
		f.Result = Result{Outcome: Failed, Error: u.Reason}
		entry.Status, entry.Details = Failed, u.Reason
		// The reason, not the error: its text may hold a next link's URL.
		slog.Warn("entra sync: directory unreadable; nothing changed", "tenant", tenantID, "status", string(u.Status), "reason", u.Reason)
		return finish(u.Status)
	}
	if err != nil {
		return Outcome{}, false, err
	}
	settings := c.SettingsOrDefault()
	members := Members(c.Mappings, dir.ByGroup)
	fp := Fingerprint(c.MicrosoftTenantID, settings, c.Mappings, dir.Groups, members)
	if fp == c.Applied && c.Held == nil && c.ApprovedDigest == "" && recent(c.AppliedAt, s.Now()) {
		// Nothing the plan depends on changed since it was last written in
		// full: the accounts are as this sync would leave them.
		f.Status, f.Result = Connected, Result{Outcome: Succeeded, Users: enabled(members)}
		entry.Status = Succeeded
		entry.Details = fmt.Sprintf("no change; %d users in mapped groups", f.Result.Users)
		return finish(Connected)
	}
	oldGroups, err := s.Store.Groups(ctx, tenantID)
	if err != nil {
		return Outcome{}, false, err
	}
	accounts, err := s.Store.Accounts(ctx, tenantID)
	if err != nil {
		return Outcome{}, false, err
	}
	stamp := s.Now()
	ok, err := s.Store.BeginWrites(ctx, tenantID, lease, stamp.Add(s.LeaseFor))
	if err != nil || !ok {
		return Outcome{}, err == nil, err // !ok: disconnected while reading; nothing written
	}
	plan := Compute(c.MicrosoftTenantID, settings, members, accounts, c.ApprovedDigest, isotime.Format(stamp))
	err = s.write(ctx, tenantID, lease, oldGroups, dir.Groups, plan.Writes)
	if err != nil {
		return Outcome{}, false, err
	}
	f.Status, f.Result, f.ClearApproval, f.Held = Connected, plan.Result, plan.ApprovalUsed, nil
	entry.Status = plan.Result.Outcome
	entry.Details = fmt.Sprintf("%d provisioned, %d role changes, %d deprovisioned, %d held; %d users in mapped groups",
		plan.Result.Provisioned, plan.Result.RoleChanges, plan.Result.Deprovisioned, plan.Result.Held, plan.Result.Users)
	if plan.Held == nil {
		f.Applied = fp
	} else {
		held := &Held{Count: len(plan.Held), Digest: digest(plan.Held), Since: isotime.Format(stamp)}
		if c.Held != nil && c.Held.Digest == held.Digest {
			held.Since = c.Held.Since
		}
		f.Held = held
		f.Reason = fmt.Sprintf("%d removals held for an Owner's approval (more than %d%% of synced accounts and more than %d)",
			len(plan.Held), settings.Threshold.Percent, settings.Threshold.Count)
		entry.Details += "; " + f.Reason
	}
	return finish(Connected)
}

// write writes the groups and accounts that changed, then clears the writer
// mark whatever happened (the writes have returned: none is in flight).
func (s *Syncer) write(ctx context.Context, tenantID, lease string, oldGroups, groups []Group, accounts []Account) error {
	defer func() {
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := s.Store.EndWrites(ectx, tenantID, lease); err != nil {
			slog.Warn("entra sync: the writer mark could not be cleared; it expires by itself", "tenant", tenantID, "error", err.Error())
		}
	}()
	if _, err := s.Store.ReplaceGroups(ctx, tenantID, oldGroups, groups); err != nil {
		return err
	}
	return s.Store.WriteAccounts(ctx, tenantID, accounts)
}

// recent reports whether a fingerprint written at `at` may still stand in
// for reading the accounts.
func recent(at string, now time.Time) bool {
	t, err := isotime.Parse(at)
	return err == nil && now.Sub(t) < fullSyncEvery
}

// enabled counts the enabled users among the members.
func enabled(members map[string]*Member) int {
	n := 0
	for _, m := range members {
		if m.User.AccountEnabled {
			n++
		}
	}
	return n
}

func newLeaseID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
