package node

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// The headers a trusted proxy may name the client in (Config.ProxyHeader).
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded"
)

// clientKey is the address a client is counted by, for the rate limits
// and the connection caps: an IPv4 address (IPv4-mapped IPv6 addresses
// included), or the /64 of an IPv6 address, since one host commonly gets a
// whole /64.
func clientKey(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		a = netip.PrefixFrom(a, 64).Masked().Addr()
	}
	return a
}

// peerAddr parses the address of a connection's peer, as net.Conn's
// RemoteAddr or http.Request's RemoteAddr give it; ok is false for
// anything but an IP address (a Unix socket, a test's handler call).
func peerAddr(remote string) (a netip.Addr, ok bool) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err = netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// ParseTrustedProxies parses serve --trusted-proxy's items: CIDRs
// ("10.0.0.0/8", "fd00::/8") or single addresses ("127.0.0.1", "::1").
func ParseTrustedProxies(items []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range items {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR (10.0.0.0/8) nor an IP address", s)
		}
		a = a.Unmap().WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// proxyTrust says which peers are trusted proxies and which header they
// name the client in. Its zero value trusts nobody.
type proxyTrust struct {
	prefixes []netip.Prefix
	header   string // HeaderXForwardedFor or HeaderForwarded
}

func newProxyTrust(prefixes []netip.Prefix, header string) (proxyTrust, error) {
	switch {
	case header == "" || strings.EqualFold(header, HeaderXForwardedFor):
		header = HeaderXForwardedFor
	case strings.EqualFold(header, HeaderForwarded):
		header = HeaderForwarded
	default:
		return proxyTrust{}, fmt.Errorf("proxy header must be %s or %s, got %q", HeaderXForwardedFor, HeaderForwarded, header)
	}
	var ps []netip.Prefix
	for _, p := range prefixes {
		if !p.IsValid() {
			return proxyTrust{}, fmt.Errorf("trusted proxy %v is not a valid CIDR", p)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(0, p.Bits()-96))
		}
		ps = append(ps, p.Masked())
	}
	return proxyTrust{prefixes: ps, header: header}, nil
}

// trusted reports whether a (unmapped, without zone) is a trusted proxy.
func (p *proxyTrust) trusted(a netip.Addr) bool {
	if p == nil {
		return false
	}
	for _, pr := range p.prefixes {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// clientOf returns the address of the client that made r. It is r's peer,
// unless the peer is a trusted proxy: then it is the rightmost address of
// the proxy header that is not itself a trusted proxy (the proxies append
// to the header, so what is left of that was written by the client and is
// not believed), or the leftmost when all are trusted; when the header is
// absent, or the entry to take is not an IP address ("unknown", an
// obfuscated name), the client is the proxy itself. proxied reports that
// the peer was a trusted proxy; ok is false when r's peer is not an IP
// address.
func (p *proxyTrust) clientOf(r *http.Request) (client netip.Addr, proxied, ok bool) {
	peer, ok := peerAddr(r.RemoteAddr)
	if !ok || !p.trusted(peer) {
		return peer, false, ok
	}
	hops := forwardedHops(r.Header.Values(p.header), p.header == HeaderForwarded)
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return peer, true, true
		}
		if !p.trusted(a) || i == 0 {
			return a, true, true
		}
	}
	return peer, true, true
}

// forwardedHops lists the client addresses of a proxy header's values, in
// order: the comma-separated items of X-Forwarded-For, or the for=
// parameters of Forwarded's elements (RFC 7239; "" for an element
// without one).
func forwardedHops(values []string, rfc7239 bool) []string {
	var hops []string
	for _, v := range values {
		for _, item := range splitOutsideQuotes(v, ',') {
			item = strings.TrimSpace(item)
			if !rfc7239 {
				hops = append(hops, item)
				continue
			}
			who := ""
			for _, pair := range splitOutsideQuotes(item, ';') {
				k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
				if strings.EqualFold(strings.TrimSpace(k), "for") {
					who = strings.Trim(strings.TrimSpace(v), `"`)
				}
			}
			hops = append(hops, who)
		}
	}
	return hops
}

// splitOutsideQuotes splits s at each sep that is not inside a quoted
// string.
func splitOutsideQuotes(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case '\\':
			if quoted {
				i++
			}
		case sep:
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// parseHop parses one forwarded address: "192.0.2.1", "192.0.2.1:4711",
// "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:4711".
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return a.Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}
