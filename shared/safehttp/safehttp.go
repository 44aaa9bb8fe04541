// Package safehttp makes outbound webhook requests that cannot be pointed at
// the platform's own network: only public unicast addresses, checked when the
// connection is made (after DNS, so a name that re-resolves to 127.0.0.1 or the
// metadata service is refused), no redirects, no proxies.
package safehttp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Public reports whether a is an address a webhook may reach: a unicast
// address in none of the IANA special-purpose ranges (see Refused).
func Public(a netip.Addr) bool {
	_, refused := Refused(a)
	return !refused
}

// ErrBlocked is returned for a destination that is not a public address.
var ErrBlocked = errors.New("destination is not a public address")

// Policy says what destinations are allowed. AllowPrivate is for the local
// stack only (WEBHOOK_ALLOW_PRIVATE): it permits http:// and private addresses.
type Policy struct {
	AllowPrivate bool
	Resolver     *net.Resolver // nil: net.DefaultResolver
}

// CheckURL validates a webhook URL when it is saved: https (http only when
// private targets are allowed), a host name or address, no credentials, and a
// host that resolves only to allowed addresses.
func (p Policy) CheckURL(ctx context.Context, raw string) error {
	if len(raw) > 2048 {
		return errors.New("must be at most 2048 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return errors.New("must be an absolute URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowPrivate:
	default:
		return errors.New("must use https://")
	}
	if u.User != nil {
		return errors.New("must not contain credentials; use a custom header instead")
	}
	if u.Fragment != "" {
		return errors.New("must not contain a fragment")
	}
	host := u.Hostname()
	if strings.ContainsAny(host, " %") {
		return errors.New("has an invalid host")
	}
	if p.AllowPrivate {
		return nil
	}
	addrs, err := p.resolve(ctx, host)
	if err != nil {
		return fmt.Errorf("host %q does not resolve", host)
	}
	for _, a := range addrs {
		if r, refused := Refused(a); refused {
			return fmt.Errorf("host %q resolves to %s, which is not a public address (%s)", host, a, r.Name)
		}
	}
	return nil
}

func (p Policy) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, errors.New("no addresses")
	}
	return addrs, nil
}

// Client returns an HTTP client for deliveries: timeout per attempt, the
// address check on every connection, no redirects (a 3xx is the answer), no
// proxy from the environment, TLS 1.2 or newer. Share one: it pools connections.
func (p Policy) Client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Resolver: p.Resolver}
	if !p.AllowPrivate {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !Public(ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrBlocked, address)
			}
			return nil
		}
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
