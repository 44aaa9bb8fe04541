package apikey

import (
	"slices"
	"testing"

	"github.com/uniasset/integrations/shared/validate"
)

func TestAllowedIPs(t *testing.T) {
	var p validate.Problems
	nets := checkNetworks(&p, "allowedIps", []string{"203.0.113.0/24", "198.51.100.7", "10.1.2.3/8", "2001:db8::/32", "::ffff:192.0.2.0/120", "2001:db8::1", "203.0.113.9/24"})
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"203.0.113.0/24", "198.51.100.7/32", "10.0.0.0/8", "2001:db8::/32", "192.0.2.0/24", "2001:db8::1/128"}
	if !slices.Equal(nets, want) {
		t.Fatalf("normalized %v, want %v", nets, want)
	}
	k := Key{AllowedIPs: nets}
	for ip, ok := range map[string]bool{
		"203.0.113.200": true, "198.51.100.7": true, "198.51.100.8": false, "10.200.0.1": true, "11.0.0.1": false,
		"2001:db8:ffff::1": true, "2001:db9::1": false, "::ffff:203.0.113.5": true, "192.0.2.77": true,
		"": false, "not-an-ip": false, "fe80::1%eth0": false,
	} {
		if k.AllowsIP(ip) != ok {
			t.Errorf("%q: allowed %v, want %v", ip, !ok, ok)
		}
	}
	if !(Key{}).AllowsIP("192.0.2.1") || !(Key{}).AllowsIP("") {
		t.Error("a key without an allowlist must take any source")
	}
	for _, bad := range [][]string{{"10.0.0.0/33"}, {"example.com"}, {"10.0.0.0/8 "}, {"fe80::1%eth0"}, {"::ffff:10.0.0.0/8"}, make([]string, MaxAllowedIPs+1)} {
		var p validate.Problems
		checkNetworks(&p, "allowedIps", bad)
		if p.Err() == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
