package safehttp

import (
	"net/netip"
	"testing"
)

// Every registry entry, entry by entry: its first address, its last address
// and one inside are refused, in every IPv6 form that embeds an IPv4 address.
func TestEveryRegistryEntryIsRefused(t *testing.T) {
	for _, table := range [][]Range{specialPurpose, notUnicast} {
		for _, r := range table {
			for _, a := range []netip.Addr{r.Prefix.Addr(), lastAddr(r.Prefix), r.Prefix.Addr().Next()} {
				if !r.Prefix.Contains(a) {
					continue // a /32 or /128 has no "inside" address
				}
				if _, refused := Refused(a); !refused {
					t.Errorf("%s (%s) is accepted", a, r.Name)
				}
				if a.Is4() {
					for _, form := range embeddings(a) {
						if _, refused := Refused(form); !refused {
							t.Errorf("%s, embedding %s (%s), is accepted", form, a, r.Name)
						}
					}
				}
			}
		}
	}
}

// The addresses around each IPv4 entry that are in no entry are public, so
// the table refuses no more than it says.
func TestNeighboursOfEntriesArePublic(t *testing.T) {
	for _, r := range specialPurpose {
		if !r.Prefix.Addr().Is4() {
			continue
		}
		for _, a := range []netip.Addr{r.Prefix.Addr().Prev(), lastAddr(r.Prefix).Next()} {
			if !a.IsValid() || inAny(a) {
				continue
			}
			if _, refused := Refused(a); refused {
				t.Errorf("%s, next to %s, is refused", a, r.Prefix)
			}
			if got := Public(netip.AddrFrom16(a.As16())); !got {
				t.Errorf("the IPv4-mapped form of public %s is refused", a)
			}
		}
	}
}

// Forms found accepted when the stack was attacked, and the classes around them.
func TestIPv6FormsThatAreNotGloballyReachable(t *testing.T) {
	for _, s := range []string{
		"::127.0.0.1", "::a9fe:a9fe", "::ffff:0:127.0.0.1", "::ffff:0:a9fe:a9fe", "::ffff:169.254.169.254",
		"64:ff9b::127.0.0.1", "64:ff9b::8.8.8.8", "64:ff9b:1::a00:1", "2002:a9fe:a9fe::1", "2002:808:808::1",
		"2001:0:4136:e378:8000:63bf:3fff:fdd2", "100::1", "100:0:0:1::1", "2001:2::1", "2001:10::1", "2001:20::1",
		"2001:db8::1", "3fff::1", "5f00::1", "fd00:ec2::254", "fe80::1%eth0", "fec0::1", "ff02::1", "ff0e::1",
		"::2", "::ffff", "4000::1", "e000::1", "fe80::5efe:7f00:1", "2600:1f18::5efe:a9fe:a9fe", "2600:1f18::200:5efe:a00:1",
	} {
		a := netip.MustParseAddr(s)
		if r, refused := Refused(a); !refused {
			t.Errorf("%s is accepted", s)
		} else if r.Name == "" {
			t.Errorf("%s: refused without a reason", s)
		}
	}
	for _, s := range []string{
		"8.8.8.8", "93.184.215.14", "::ffff:8.8.8.8", "2606:4700:4700::1111", "2600:1f18::5efe:808:808", "2a00:1450:4001:80b::200e",
	} {
		if r, refused := Refused(netip.MustParseAddr(s)); refused {
			t.Errorf("%s refused as %s", s, r.Name)
		}
	}
}

// embeddings lists the IPv6 forms that carry a.
func embeddings(a netip.Addr) []netip.Addr {
	v := a.As4()
	with := func(prefix [12]byte) netip.Addr {
		var b [16]byte
		copy(b[:12], prefix[:])
		copy(b[12:], v[:])
		return netip.AddrFrom16(b)
	}
	sixToFour := [16]byte{0x20, 0x02, v[0], v[1], v[2], v[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	return []netip.Addr{
		with([12]byte{10: 0xff, 11: 0xff}),                   // IPv4-mapped
		with([12]byte{}),                                     // IPv4-compatible
		with([12]byte{8: 0xff, 9: 0xff}),                     // IPv4-translated
		with([12]byte{0: 0x00, 1: 0x64, 2: 0xff, 3: 0x9b}),   // NAT64 well-known prefix
		netip.AddrFrom16(sixToFour),                          // 6to4
		with([12]byte{0: 0xfe, 1: 0x80, 10: 0x5e, 11: 0xfe}), // ISATAP, link-local prefix
		with([12]byte{0: 0x26, 1: 0x00, 10: 0x5e, 11: 0xfe}), // ISATAP, global prefix
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func inAny(a netip.Addr) bool {
	for _, table := range [][]Range{specialPurpose, notUnicast} {
		for _, r := range table {
			if r.Prefix.Contains(a) {
				return true
			}
		}
	}
	return false
}
