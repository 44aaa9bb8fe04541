package entra

import (
	"fmt"
	"testing"

	"github.com/uniasset/integrations/shared/msgraph"
	"github.com/uniasset/integrations/shared/tenant"
)

const microsoftTenantID = "microsoftTenantID-tenant"

func synced(n int) map[string]Account {
	out := map[string]Account{}
	for i := range n {
		id := fmt.Sprintf("u%02d", i)
		out[id] = Account{EntraID: id, MicrosoftTenantID: microsoftTenantID, Role: tenant.Member, Status: Active, Groups: []string{"g"}}
	}
	return out
}

func membersOf(ids ...string) map[string]*Member {
	out := map[string]*Member{}
	for _, id := range ids {
		out[id] = &Member{User: msgraph.User{ID: id, AccountEnabled: true}, Role: tenant.Member, Groups: []string{"g"}}
	}
	return out
}

func ids(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("u%02d", i))
	}
	return out
}

// The threshold holds only when removals are both more than Count and more
// than Percent of the synced accounts.
func TestThresholdNeedsBothBounds(t *testing.T) {
	for _, c := range []struct {
		synced, removed int
		held            bool
	}{
		{100, 5, false},  // 5%, not more than 5
		{100, 6, false},  // more than 5, 6%
		{100, 21, true},  // 21%, more than 5
		{100, 20, false}, // exactly 20%
		{10, 5, false},   // 50%, not more than 5
		{10, 6, true},
	} {
		p := Compute(microsoftTenantID, DefaultSettings, membersOf(ids(c.removed, c.synced)...), synced(c.synced), "", "now")
		if (p.Held != nil) != c.held || (c.held && (p.Result.Deprovisioned != 0 || len(p.Held) != c.removed)) || (!c.held && p.Result.Deprovisioned != c.removed) {
			t.Errorf("%d of %d: %+v held %v", c.removed, c.synced, p.Result, p.Held)
		}
	}
}

// An approval applies only the held set it names; a stale one is used up
// and applies nothing.
func TestApprovalAppliesOnlyTheSetItNames(t *testing.T) {
	accounts := synced(10)
	for _, id := range ids(0, 8) {
		a := accounts[id]
		a.PendingRemoval = true
		accounts[id] = a
	}
	members := membersOf(ids(7, 10)...) // u07 came back
	p := Compute(microsoftTenantID, DefaultSettings, members, accounts, digest(ids(0, 8)), "now")
	if p.Result.Deprovisioned != 7 || p.Held != nil || !p.ApprovalUsed || p.Result.Updated != 1 {
		t.Fatalf("approved: %+v held %v", p.Result, p.Held)
	}
	p = Compute(microsoftTenantID, DefaultSettings, members, accounts, digest(ids(0, 3)), "now")
	if p.Result.Deprovisioned != 0 || len(p.Held) != 7 || !p.ApprovalUsed {
		t.Fatalf("stale approval: %+v held %v", p.Result, p.Held)
	}
}

// Accounts of another Microsoft tenant, and members not enabled, are
// neither provisioned nor counted; the highest role wins.
func TestMembersAndOtherTenants(t *testing.T) {
	m := Members(map[string]tenant.Role{"a": tenant.Viewer, "b": tenant.Admin, "c": tenant.Member}, map[string][]msgraph.User{
		"a": {{ID: "x", AccountEnabled: true}, {ID: "off"}},
		"b": {{ID: "x", AccountEnabled: true}},
		"c": {{ID: "x", AccountEnabled: true}, {ID: "old", AccountEnabled: true}},
	})
	if x := m["x"]; x.Role != tenant.Admin || len(x.Groups) != 3 || x.Groups[0] != "a" {
		t.Fatalf("x: %+v", x)
	}
	accounts := map[string]Account{"old": {EntraID: "old", MicrosoftTenantID: "another", Status: Active, Role: tenant.Viewer}}
	p := Compute(microsoftTenantID, DefaultSettings, m, accounts, "", "now")
	if p.Result.Provisioned != 1 || p.Result.Users != 2 || len(p.Writes) != 1 || p.Writes[0].EntraID != "x" {
		t.Fatalf("plan: %+v %v", p.Result, p.Writes)
	}
}

// The fingerprint is the same however the directory's reads were ordered,
// and differs with anything a plan is computed from.
func TestFingerprint(t *testing.T) {
	s := DefaultSettings
	m := map[string]tenant.Role{"g": tenant.Member}
	groups := []Group{{ID: "g", DisplayName: "G"}, {ID: "h", DisplayName: "H"}}
	base := Fingerprint(microsoftTenantID, s, m, groups, membersOf("u1", "u2"))
	if got := Fingerprint(microsoftTenantID, s, m, []Group{groups[1], groups[0]}, membersOf("u2", "u1")); got != base {
		t.Fatal("the order of reads changed the fingerprint")
	}
	renamed := membersOf("u1", "u2")
	renamed["u2"].User.Mail = "new@example.com"
	other := s
	other.Threshold.Count++
	for name, fp := range map[string]string{
		"another tenant":  Fingerprint("other", s, m, groups, membersOf("u1", "u2")),
		"another setting": Fingerprint(microsoftTenantID, other, m, groups, membersOf("u1", "u2")),
		"another mapping": Fingerprint(microsoftTenantID, s, map[string]tenant.Role{"g": tenant.Admin}, groups, membersOf("u1", "u2")),
		"a group renamed": Fingerprint(microsoftTenantID, s, m, []Group{{ID: "g", DisplayName: "G2"}, groups[1]}, membersOf("u1", "u2")),
		"a member less":   Fingerprint(microsoftTenantID, s, m, groups, membersOf("u1")),
		"a mail changed":  Fingerprint(microsoftTenantID, s, m, groups, renamed),
	} {
		if fp == base {
			t.Errorf("%s: the same fingerprint", name)
		}
	}
}
