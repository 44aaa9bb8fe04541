package entra

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/uniasset/integrations/shared/msgraph"
	"github.com/uniasset/integrations/shared/tenant"
)

// Member is a user found among the transitive members of the mapped
// groups: the highest role of its groups, and those groups.
type Member struct {
	User   msgraph.User
	Role   tenant.Role
	Groups []string // mapped group ids, sorted
}

// Members folds each mapped group's users into one Member per user.
func Members(mappings map[string]tenant.Role, byGroup map[string][]msgraph.User) map[string]*Member {
	out := map[string]*Member{}
	for gid, users := range byGroup {
		role := mappings[gid]
		for _, u := range users {
			m := out[u.ID]
			if m == nil {
				m = &Member{User: u}
				out[u.ID] = m
			}
			if rank(role) > rank(m.Role) {
				m.Role = role
			}
			if !slices.Contains(m.Groups, gid) {
				m.Groups = append(m.Groups, gid)
			}
		}
	}
	for _, m := range out {
		slices.Sort(m.Groups)
	}
	return out
}

// Fingerprint names everything a sync's plan is computed from but the
// accounts themselves: the Microsoft tenant, the settings, the mappings, the
// groups and every member as read. Only syncs write accounts, and a plan
// written in full leaves nothing for the same inputs to change — so a sync
// whose fingerprint is the Applied one of the last full write (nothing held
// or approved since) has nothing to do, and need not read 50,000 accounts
// to find that out.
func Fingerprint(microsoftTenantID string, s Settings, mappings map[string]tenant.Role, groups []Group, members map[string]*Member) string {
	type member struct {
		U msgraph.User
		R tenant.Role
		G []string
	}
	in := struct {
		T string
		S Settings
		M map[string]tenant.Role // encoding/json writes map keys sorted
		G []Group
		U []member
	}{T: microsoftTenantID, S: s, M: mappings, G: slices.SortedFunc(slices.Values(groups), func(a, b Group) int { return strings.Compare(a.ID, b.ID) })}
	for _, id := range slices.Sorted(maps.Keys(members)) {
		m := members[id]
		in.U = append(in.U, member{m.User, m.Role, m.Groups})
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return "" // never equal to a stored one: the sync does its full work
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// Plan is what a sync writes: each account as it is to be stored, and the
// counts its System entry reports.
type Plan struct {
	Writes []Account
	Result Result
	// Held is the set of removals now waiting for an Owner (nil: none).
	// (A held account that is back in a mapped group is written without
	// its mark by the provisioning half; one approved is disabled.)
	Held []string
	// ApprovalUsed: the Owner's approval was applied (or is void); clear it.
	ApprovalUsed bool
}

// Compute decides what a sync does, from the directory's members, the
// accounts the sync created for this Microsoft tenant, the settings, and
// the held set an Owner approved ("" for none). Accounts of another
// Microsoft tenant (a connection since replaced) are never touched.
func Compute(microsoftTenantID string, s Settings, members map[string]*Member, accounts map[string]Account, approved, now string) Plan {
	var p Plan
	write := func(a Account) { a.ChangedAt = now; p.Writes = append(p.Writes, a) }
	base, removals, heldNow := 0, []string{}, []string{}
	for _, a := range accounts {
		if a.MicrosoftTenantID != microsoftTenantID || a.Status != Active {
			continue
		}
		base++
		if a.PendingRemoval {
			heldNow = append(heldNow, a.EntraID)
		}
	}
	for id, m := range members {
		if !m.User.AccountEnabled {
			continue
		}
		p.Result.Users++
		a, exists := accounts[id]
		if exists && a.MicrosoftTenantID != microsoftTenantID {
			continue
		}
		want := Account{
			EntraID: id, MicrosoftTenantID: microsoftTenantID, DisplayName: m.User.DisplayName, Email: emailOf(m.User),
			UserPrincipalName: m.User.UserPrincipalName, Role: m.Role, Status: Active, Groups: m.Groups,
			ProvisionedAt: a.ProvisionedAt,
		}
		switch {
		case !exists || a.Status != Active:
			if !s.AutoProvision {
				continue
			}
			if !exists {
				want.ProvisionedAt = now
			}
			p.Result.Provisioned++
			write(want)
		case a.Role != want.Role:
			p.Result.RoleChanges++
			write(want)
		case a.DisplayName != want.DisplayName || a.Email != want.Email || a.UserPrincipalName != want.UserPrincipalName ||
			!slices.Equal(a.Groups, want.Groups) || a.PendingRemoval:
			p.Result.Updated++
			write(want)
		}
	}
	for id, a := range accounts {
		if a.MicrosoftTenantID != microsoftTenantID || a.Status != Active {
			continue
		}
		if m, ok := members[id]; ok && m.User.AccountEnabled {
			continue
		}
		removals = append(removals, id)
	}
	slices.Sort(removals)
	disable := func(id string) {
		a := accounts[id]
		a.Status, a.PendingRemoval, a.DisabledReason = Disabled, false, LeftGroups
		if m, ok := members[id]; ok && !m.User.AccountEnabled {
			a.DisabledReason = DisabledInEntra
		}
		p.Result.Deprovisioned++
		write(a)
	}
	setPending := func(id string, on bool) {
		if a := accounts[id]; a.PendingRemoval != on {
			a.PendingRemoval = on
			write(a)
		}
	}
	if !s.DeprovisionSync {
		for _, id := range removals {
			setPending(id, false)
		}
		p.ApprovalUsed = approved != ""
		p.Result.Outcome = Succeeded
		return p
	}
	rest := removals
	if approved != "" {
		p.ApprovalUsed = true
		if approved == digest(heldNow) {
			// Exactly the approved removals that still hold; a user who came
			// back in the meantime is not removed.
			rest = nil
			for _, id := range removals {
				if slices.Contains(heldNow, id) {
					disable(id)
				} else {
					rest = append(rest, id)
				}
			}
		}
	}
	if s.Threshold.Over(len(rest), base) {
		for _, id := range rest {
			setPending(id, true)
		}
		p.Held = rest
		p.Result.Held = len(rest)
		p.Result.Outcome = HeldBack
		return p
	}
	for _, id := range rest {
		disable(id)
	}
	p.Result.Outcome = Succeeded
	return p
}

// emailOf is the user's mail, or its sign-in name when it has no mailbox.
func emailOf(u msgraph.User) string {
	if u.Mail != "" {
		return u.Mail
	}
	return u.UserPrincipalName
}
