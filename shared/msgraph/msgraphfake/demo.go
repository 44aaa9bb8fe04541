package msgraphfake

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/uniasset/integrations/shared/msgraph"
)

// Listen serves s on addr ("127.0.0.1:0" for a free port) until stop is
// called, and points BaseURL (the next links it writes) at it. root is the
// login root; Graph is root + "/v1.0".
func (s *Server) Listen(addr string) (root string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	root = "http://" + ln.Addr().String()
	s.mu.Lock()
	s.BaseURL = root + "/v1.0"
	s.mu.Unlock()
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return root, func() { _ = srv.Close() }, nil
}

// DemoTenantID is the demo directory's Microsoft tenant id.
const DemoTenantID = "7d1f3c2a-5b8e-4f60-9a1d-2c3b4e5f6a7b"

// Demo is a small directory to connect to: nested groups, several roles,
// a disabled user, a group that is not a security group, and more users
// than one page of 10 holds (make run serves pages of 10).
func Demo() *Directory {
	d := &Directory{Org: msgraph.Organization{
		ID: DemoTenantID, DisplayName: "Contoso Ltd",
		VerifiedDomains: []msgraph.Domain{
			{Name: "contoso.onmicrosoft.com", IsInitial: true},
			{Name: "contoso.example", IsDefault: true},
		},
	}}
	user := func(n int, name string, enabled bool) string {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
		upn := fmt.Sprintf("%s@contoso.example", name)
		d.Users = append(d.Users, msgraph.User{ID: id, DisplayName: name, Mail: upn, UserPrincipalName: upn, AccountEnabled: enabled})
		return id
	}
	group := func(n int, name string, security bool, members ...string) string {
		id := fmt.Sprintf("10000000-0000-4000-8000-%012d", n)
		d.Groups = append(d.Groups, Group{Group: msgraph.Group{ID: id, DisplayName: name, Description: name + " (demo)"}, Security: security, Members: members})
		return id
	}
	alice, bob, carol := user(1, "alice.owner", true), user(2, "bob.admin", true), user(3, "carol.itops", true)
	dave := user(4, "dave.disabled", false)
	var engineers, contractors []string
	for i := range 18 {
		engineers = append(engineers, user(100+i, fmt.Sprintf("engineer.%02d", i+1), true))
	}
	for i := range 6 {
		contractors = append(contractors, user(200+i, fmt.Sprintf("contractor.%02d", i+1), true))
	}
	itops := group(5, "IT Operations", true, carol)
	group(1, "UniAsset Owners", true, alice)
	group(2, "UniAsset Admins", true, bob, itops)
	contractorsGroup := group(4, "Contractors", true, slices.Concat(contractors, []string{dave})...)
	group(3, "Field Engineers", true, slices.Concat(engineers, []string{contractorsGroup})...)
	all := slices.Concat([]string{alice, bob, carol, dave}, engineers, contractors)
	group(6, "All Company", false, all...)
	for i := range 12 {
		group(50+i, fmt.Sprintf("Project Team %02d", i+1), true, engineers[i])
	}
	return d
}
