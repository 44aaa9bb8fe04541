package apikey

import (
	"fmt"
	"net/netip"

	"github.com/uniasset/integrations/shared/validate"
)

// MaxAllowedIPs bounds a key's allowlist: a few dozen networks is what a
// customer's egress is; more is a list that belongs in their firewall.
const MaxAllowedIPs = 32

// AllowsIP reports whether a request from ip may use the key: a key with no
// allowlist takes any source; one with an allowlist, only addresses in one
// of its networks. ip is the source address API Gateway saw; an address
// that does not parse is refused by a key with an allowlist.
func (k Key) AllowsIP(ip string) bool {
	if len(k.AllowedIPs) == 0 {
		return true
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap() // an IPv4 client seen over IPv6 (::ffff:a.b.c.d) is its IPv4 address
	for _, s := range k.AllowedIPs {
		if p, err := netip.ParsePrefix(s); err == nil && p.Contains(addr) {
			return true
		}
	}
	return false
}

// checkNetworks validates an allowlist and returns it normalized: each
// entry an IPv4 or IPv6 network (CIDR) or one address (a /32 or /128),
// written as its network (10.1.2.3/8 is 10.0.0.0/8), without duplicates.
func checkNetworks(p *validate.Problems, field string, in []string) []string {
	if len(in) > MaxAllowedIPs {
		p.Add(field, fmt.Sprintf("at most %d networks", MaxAllowedIPs))
		return nil
	}
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for i, s := range in {
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			addr, aerr := netip.ParseAddr(s)
			if aerr != nil || addr.Zone() != "" {
				p.Add(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("%q is not an IPv4 or IPv6 address or network (CIDR, such as 203.0.113.0/24 or 2001:db8::/32)", s))
				continue
			}
			prefix = netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen())
		}
		prefix = netip.PrefixFrom(prefix.Addr().Unmap(), prefix.Bits()-(prefix.Addr().BitLen()-prefix.Addr().Unmap().BitLen())).Masked()
		if !prefix.IsValid() {
			p.Add(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("%q is not a valid network", s))
			continue
		}
		if !seen[prefix.String()] {
			seen[prefix.String()] = true
			out = append(out, prefix.String())
		}
	}
	return out
}
