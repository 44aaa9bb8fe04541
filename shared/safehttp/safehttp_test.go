package safehttp

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestPublic(t *testing.T) {
	for s, want := range map[string]bool{
		"93.184.215.14": true, "2606:2800:21f:cb07:6820:80da:af6b:8b2c": true, "8.8.8.8": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "100.64.0.1": false, "0.0.0.0": false, "255.255.255.255": false,
		"224.0.0.1": false, "::1": false, "::": false, "fe80::1": false, "fd00::1": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "64:ff9b::a00:1": false, "fd00:ec2::254": false,
		"198.18.0.1": false, "2002:7f00:1::": false,
	} {
		if got := Public(netip.MustParseAddr(s)); got != want {
			t.Errorf("Public(%s) = %v, want %v", s, got, want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	strict := Policy{}
	ctx := context.Background()
	for _, u := range []string{
		"http://93.184.215.14/hook", "https://127.0.0.1/hook", "https://10.0.0.5/", "https://169.254.169.254/latest/meta-data",
		"https://[::1]/", "https://localhost/", "https://user:pw@93.184.215.14/", "ftp://93.184.215.14/", "/relative",
		"https://93.184.215.14/#frag", "https://" + strings.Repeat("a", 2050) + ".com/", "https://[::ffff:127.0.0.1]/",
	} {
		if err := strict.CheckURL(ctx, u); err == nil {
			t.Errorf("CheckURL(%q) accepted", u)
		}
	}
	if err := strict.CheckURL(ctx, "https://93.184.215.14:8443/hooks?x=1"); err != nil {
		t.Errorf("a public https URL was refused: %v", err)
	}
	if err := (Policy{AllowPrivate: true}).CheckURL(ctx, "http://127.0.0.1:9000/hook"); err != nil {
		t.Errorf("the local policy refused a loopback receiver: %v", err)
	}
}

// The address check runs at connect time, whatever the URL said when it was saved.
func TestClientRefusesPrivateAtConnect(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	defer srv.Close()
	_, err := Policy{}.Client(2 * time.Second).Get(srv.URL) // 127.0.0.1
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("loopback reached: %v", err)
	}
	host := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) // a name resolving to loopback
	if _, err := (Policy{}).Client(2 * time.Second).Get(host); !errors.Is(err, ErrBlocked) {
		t.Fatalf("a name resolving to loopback reached it: %v", err)
	}
	resp, err := Policy{AllowPrivate: true}.Client(2 * time.Second).Get(srv.URL)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("local policy: %v", err)
	}
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	resp, err := Policy{AllowPrivate: true}.Client(2 * time.Second).Get(srv.URL)
	if err != nil || resp.StatusCode != http.StatusFound || hits != 1 {
		t.Fatalf("redirect followed: status %v hits %d err %v", resp, hits, err)
	}
}
