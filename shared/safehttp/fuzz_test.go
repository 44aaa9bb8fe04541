package safehttp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"testing"
)

// Whatever the address: an accepted one passes every netip predicate of a
// public unicast address, is in 2000::/3 when IPv6, and an IPv4-mapped
// address is judged exactly as the IPv4 address it maps.
func FuzzRefused(f *testing.F) {
	for _, seed := range []string{"8.8.8.8", "::127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a00:1", "2002:a9fe:a9fe::1",
		"2001::1", "fe80::5efe:a00:1", "2606:4700::1", "fd00:ec2::254", "ff02::1"} {
		b := netip.MustParseAddr(seed).As16()
		f.Add(b[:])
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, ok := netip.AddrFromSlice(raw)
		if !ok {
			return
		}
		_, refused := Refused(a)
		if a.Is4In6() {
			if _, r4 := Refused(a.Unmap()); r4 != refused {
				t.Fatalf("%s judged %v, the IPv4 it maps %v", a, refused, r4)
			}
		}
		if refused {
			return
		}
		u := a.Unmap()
		if u.IsLoopback() || u.IsPrivate() || u.IsLinkLocalUnicast() || u.IsMulticast() || u.IsUnspecified() ||
			u.IsInterfaceLocalMulticast() || u.IsLinkLocalMulticast() {
			t.Fatalf("%s accepted", a)
		}
		if u.Is6() && !netip.MustParsePrefix("2000::/3").Contains(u) {
			t.Fatalf("%s accepted outside 2000::/3", a)
		}
	})
}

// Whatever the URL: an accepted one is an absolute https URL without
// credentials or fragment whose host is a public address (names do not
// resolve here, so only literals can pass).
func FuzzCheckURL(f *testing.F) {
	for _, seed := range []string{"https://93.184.215.14/hook", "https://[::ffff:127.0.0.1]/", "https://[::127.0.0.1]/",
		"https://0x7f.1/", "https://2130706433/", "https://127.1/", "https://[fe80::1%25eth0]/", "http://8.8.8.8/",
		"https://user@8.8.8.8/", "https://8.8.8.8#f", "HTTPS://8.8.8.8/", "https://8.8.8.8:99999/", "https://[2001:db8::1]/"} {
		f.Add(seed)
	}
	noDNS := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no DNS in this test")
	}}
	f.Fuzz(func(t *testing.T, raw string) {
		if err := (Policy{Resolver: noDNS}).CheckURL(context.Background(), raw); err != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "https" || u.User != nil || u.Fragment != "" || u.Host == "" {
			t.Fatalf("accepted %q", raw)
		}
		a, err := netip.ParseAddr(u.Hostname())
		if err != nil || !Public(a) {
			t.Fatalf("accepted %q with host %q", raw, u.Hostname())
		}
	})
}
