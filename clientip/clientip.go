// Package clientip finds a request's client address, believing
// X-Forwarded-For and Forwarded only from trusted proxies.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds the client IP of requests. The zero value trusts no proxy.
type Resolver struct {
	trusted []netip.Prefix
}

// New parses comma-separated CIDRs (or bare addresses) of trusted proxies.
func New(trustedProxies string) (*Resolver, error) {
	r := &Resolver{}
	for s := range strings.SplitSeq(trustedProxies, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxies: %w", err)
		}
		r.trusted = append(r.trusted, p)
	}
	return r, nil
}

// ParsePrefix parses a CIDR or a single address (as a /32 or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// IP returns the client's address. Walking X-Forwarded-For (or Forwarded)
// from the right, it skips trusted proxies and returns the first address
// that is not one; with no trusted proxy configured it is RemoteAddr.
func (r *Resolver) IP(req *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		host = req.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	if !r.isTrusted(peer) {
		return peer
	}
	hops := forwardedFor(req)
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			return peer // a garbled header is not believed past this point
		}
		a = a.Unmap()
		if !r.isTrusted(a) {
			return a
		}
		peer = a
	}
	return peer
}

// forwardedFor returns the hop addresses, client first, from X-Forwarded-For
// or else the standard Forwarded header.
func forwardedFor(req *http.Request) []string {
	var hops []string
	for _, h := range req.Header.Values("X-Forwarded-For") {
		for part := range strings.SplitSeq(h, ",") {
			if p := strings.TrimSpace(part); p != "" {
				hops = append(hops, p)
			}
		}
	}
	if len(hops) > 0 {
		return hops
	}
	for _, h := range req.Header.Values("Forwarded") {
		for elem := range strings.SplitSeq(h, ",") {
			for pair := range strings.SplitSeq(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok || !strings.EqualFold(k, "for") {
					continue
				}
				v = strings.Trim(v, `"`)
				if strings.HasPrefix(v, "[") { // [2001:db8::1]:4711
					if end := strings.IndexByte(v, ']'); end > 0 {
						v = v[1:end]
					}
				} else if h, _, err := net.SplitHostPort(v); err == nil {
					v = h
				}
				hops = append(hops, v)
			}
		}
	}
	return hops
}
