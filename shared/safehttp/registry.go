package safehttp

import "net/netip"

// Range is one entry of the address registries a webhook may not reach.
type Range struct {
	Prefix netip.Prefix
	Name   string
}

// specialPurpose is the whole of the IANA IPv4 and IPv6 Special-Purpose
// Address Registries (iana-ipv4-special-registry, iana-ipv6-special-registry;
// RFC 6890 and the RFCs each entry cites), every entry, whatever its
// "Globally Reachable" column says: the few entries marked reachable are
// anycast infrastructure (PCP, TURN, AS112, AMT, DNS-SD) and overlay
// identifiers (ORCHID, DET), never a customer's webhook receiver. A test walks
// this table entry by entry, so a new registry entry is one line here.
var specialPurpose = []Range{
	// IPv4
	{p("0.0.0.0/8"), `"This network" (RFC 791)`},
	{p("0.0.0.0/32"), `"This host on this network" (RFC 1122)`},
	{p("10.0.0.0/8"), "Private-Use (RFC 1918)"},
	{p("100.64.0.0/10"), "Shared Address Space (RFC 6598)"},
	{p("127.0.0.0/8"), "Loopback (RFC 1122)"},
	{p("169.254.0.0/16"), "Link Local (RFC 3927), including the instance metadata service"},
	{p("172.16.0.0/12"), "Private-Use (RFC 1918)"},
	{p("192.0.0.0/24"), "IETF Protocol Assignments (RFC 6890)"},
	{p("192.0.0.0/29"), "IPv4 Service Continuity Prefix (RFC 7335)"},
	{p("192.0.0.8/32"), "IPv4 dummy address (RFC 7600)"},
	{p("192.0.0.9/32"), "Port Control Protocol Anycast (RFC 7723)"},
	{p("192.0.0.10/32"), "Traversal Using Relays around NAT Anycast (RFC 8155)"},
	{p("192.0.0.170/32"), "NAT64/DNS64 Discovery (RFC 7050)"},
	{p("192.0.0.171/32"), "NAT64/DNS64 Discovery (RFC 7050)"},
	{p("192.0.2.0/24"), "Documentation (TEST-NET-1, RFC 5737)"},
	{p("192.31.196.0/24"), "AS112-v4 (RFC 7535)"},
	{p("192.52.193.0/24"), "AMT (RFC 7450)"},
	{p("192.88.99.0/24"), "Deprecated (6to4 Relay Anycast, RFC 7526)"},
	{p("192.88.99.2/32"), "6a44-relay anycast address (RFC 6751)"},
	{p("192.168.0.0/16"), "Private-Use (RFC 1918)"},
	{p("192.175.48.0/24"), "Direct Delegation AS112 Service (RFC 7534)"},
	{p("198.18.0.0/15"), "Benchmarking (RFC 2544)"},
	{p("198.51.100.0/24"), "Documentation (TEST-NET-2, RFC 5737)"},
	{p("203.0.113.0/24"), "Documentation (TEST-NET-3, RFC 5737)"},
	{p("240.0.0.0/4"), "Reserved (RFC 1112)"},
	{p("255.255.255.255/32"), "Limited Broadcast (RFC 919)"},

	// IPv6
	{p("::1/128"), "Loopback Address (RFC 4291)"},
	{p("::/128"), "Unspecified Address (RFC 4291)"},
	{p("::ffff:0:0/96"), "IPv4-mapped Address (RFC 4291)"},
	{p("64:ff9b::/96"), "IPv4-IPv6 Translation (RFC 6052)"},
	{p("64:ff9b:1::/48"), "Local-use IPv4/IPv6 Translation (RFC 8215)"},
	{p("100::/64"), "Discard-Only Address Block (RFC 6666)"},
	{p("100:0:0:1::/64"), "Dummy IPv6 Prefix (RFC 9780)"},
	{p("2001::/23"), "IETF Protocol Assignments (RFC 2928)"},
	{p("2001::/32"), "TEREDO (RFC 4380)"},
	{p("2001:1::1/128"), "Port Control Protocol Anycast (RFC 7723)"},
	{p("2001:1::2/128"), "Traversal Using Relays around NAT Anycast (RFC 8155)"},
	{p("2001:1::3/128"), "DNS-SD Service Registration Protocol Anycast (RFC 9665)"},
	{p("2001:2::/48"), "Benchmarking (RFC 5180)"},
	{p("2001:3::/32"), "AMT (RFC 7450)"},
	{p("2001:4:112::/48"), "AS112-v6 (RFC 7535)"},
	{p("2001:10::/28"), "Deprecated (previously ORCHID, RFC 4843)"},
	{p("2001:20::/28"), "ORCHIDv2 (RFC 7343)"},
	{p("2001:30::/28"), "Drone Remote ID Protocol Entity Tags (RFC 9374)"},
	{p("2001:db8::/32"), "Documentation (RFC 3849)"},
	{p("2002::/16"), "6to4 (RFC 3056)"},
	{p("2620:4f:8000::/48"), "Direct Delegation AS112 Service (RFC 7534)"},
	{p("3fff::/20"), "Documentation (RFC 9637)"},
	{p("5f00::/16"), "Segment Routing (SRv6) SIDs (RFC 9602)"},
	{p("fc00::/7"), "Unique-Local (RFC 4193), including fd00:ec2::254, the IPv6 metadata service"},
	{p("fe80::/10"), "Link-Local Unicast (RFC 4291)"},
}

// notUnicast is what the special-purpose registries leave to the other IANA
// registries but is no more a destination: multicast (the multicast address
// registries), and the IPv6 forms the address architecture deprecated or
// reserves (RFC 4291 section 2.4 and 2.5.5.1, RFC 3879), which Go would
// otherwise dial as ordinary addresses.
var notUnicast = []Range{
	{p("224.0.0.0/4"), "IPv4 multicast (RFC 5771)"},
	{p("ff00::/8"), "IPv6 multicast (RFC 4291)"},
	{p("::/96"), "IPv4-compatible IPv6 address, deprecated (RFC 4291), e.g. ::127.0.0.1"},
	{p("::ffff:0:0:0/96"), "IPv4-translated address (RFC 2765), e.g. ::ffff:0:127.0.0.1"},
	{p("::/8"), "Reserved by IETF (RFC 4291)"},
	{p("fec0::/10"), "Site-local, deprecated (RFC 3879)"},
}

// globalUnicast is the only IPv6 space IANA allocates to registries; the rest
// is reserved, unique-local, link-local or multicast.
var globalUnicast = p("2000::/3")

func p(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// Refused returns the registry entry that keeps a webhook from a, if any.
//
// IPv4 embedded in IPv6 is judged in every standard form: an IPv4-mapped
// address is the IPv4 address it maps (that is how it is dialled), and is
// refused if that address is; the other forms that carry an IPv4 address
// (IPv4-compatible, IPv4-translated, NAT64 64:ff9b::/96 and 64:ff9b:1::/48,
// 6to4 2002::/16, Teredo 2001::/32) are refused whole, since each reaches IPv4
// through a translator or tunnel whose far side we cannot judge; an ISATAP
// interface identifier (…:5efe:a.b.c.d, RFC 5214) is refused when the IPv4
// address it names is.
func Refused(a netip.Addr) (Range, bool) {
	if !a.IsValid() {
		return Range{Name: "not an IP address"}, true
	}
	a = a.WithZone("")
	if a.Is4In6() {
		a4 := a.Unmap()
		if r, ok := Refused(a4); ok {
			r.Name = "IPv4-mapped " + r.Name
			return r, true
		}
		return Range{}, false
	}
	if r, ok := longestMatch(a); ok {
		return r, true
	}
	if a.Is6() && !globalUnicast.Contains(a) {
		return Range{Prefix: globalUnicast, Name: "outside Global Unicast 2000::/3 (IANA IPv6 Address Space: reserved)"}, true
	}
	if a.Is6() {
		b := a.As16()
		if (b[8]|0x02) == 0x02 && b[9] == 0 && b[10] == 0x5e && b[11] == 0xfe {
			embedded := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
			if r, ok := Refused(embedded); ok {
				r.Name = "ISATAP interface identifier naming " + r.Name
				return r, true
			}
		}
	}
	return Range{}, false
}

// longestMatch returns the most specific entry containing a.
func longestMatch(a netip.Addr) (Range, bool) {
	var best Range
	found := false
	for _, table := range [][]Range{specialPurpose, notUnicast} {
		for _, r := range table {
			if r.Prefix.Contains(a) && (!found || r.Prefix.Bits() > best.Prefix.Bits()) {
				best, found = r, true
			}
		}
	}
	return best, found
}
