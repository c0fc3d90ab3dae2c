package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// PeerPolicy decides which addresses the node may send requests to as
// peers: the node registers with, fetches chains from and announces blocks
// to URLs that strangers give it, so without a policy it could be made to
// call anything its host can reach.
//
// A public address (global unicast, outside the private, shared and
// reserved ranges) is always allowed. A loopback address is allowed when
// the node itself is served on loopback (several nodes on one machine, as
// the tutorial runs them). Private, link-local (cloud metadata services
// among them), unspecified, multicast and reserved addresses are refused,
// and loopback too for a node served elsewhere, unless the policy's allow
// list names them: a CIDR ("10.0.0.0/8"), an address, or a host name
// (then whatever that name resolves to is allowed).
//
// The check is made where the connection is made: the host name is
// resolved, every address is checked, and only an allowed address is
// dialed, so a name that resolves to something else later (DNS
// rebinding) does not get through.
type PeerPolicy struct {
	loopback bool
	nets     []netip.Prefix
	hosts    map[string]bool
}

// NewPeerPolicy returns the policy of a node served on bind (a host:port
// or a host, as given to serve --addr) with the extra entries of allow
// (serve --peer-allow).
func NewPeerPolicy(bind string, allow []string) (*PeerPolicy, error) {
	p := &PeerPolicy{hosts: map[string]bool{}}
	host := bind
	if h, _, err := net.SplitHostPort(bind); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		p.loopback = true
	} else if a, err := netip.ParseAddr(host); err == nil && a.Unmap().IsLoopback() {
		p.loopback = true
	}
	for _, e := range allow {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
		case strings.Contains(e, "/"):
			pr, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("peer allow list: %q is not a CIDR: %v", e, err)
			}
			p.nets = append(p.nets, pr.Masked())
		default:
			if a, err := netip.ParseAddr(strings.Trim(e, "[]")); err == nil {
				a = a.Unmap()
				p.nets = append(p.nets, netip.PrefixFrom(a, a.BitLen()))
				continue
			}
			if !validHostName(e) {
				return nil, fmt.Errorf("peer allow list: %q is not a CIDR, an address or a host name", e)
			}
			p.hosts[strings.ToLower(strings.TrimSuffix(e, "."))] = true
		}
	}
	return p, nil
}

// reserved are ranges that are neither private nor public: shared address
// space (carrier-grade NAT), IETF protocol assignments, benchmarking,
// "this network", class E, and NAT64 prefixes, which can reach IPv4
// addresses of any kind.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
}

// ErrPeerNotAllowed is returned (wrapped) when a peer's address is refused
// by the node's PeerPolicy.
var ErrPeerNotAllowed = errors.New("the address is not allowed as a peer")

// allowAddr returns nil when the policy allows dialing a, or why not.
func (p *PeerPolicy) allowAddr(a netip.Addr) error {
	a = a.Unmap().WithZone("")
	for _, n := range p.nets {
		if n.Contains(a) {
			return nil
		}
	}
	var kind string
	switch {
	case a.IsLoopback():
		if p.loopback {
			return nil
		}
		kind = "loopback"
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		kind = "link-local"
	case a.IsPrivate():
		kind = "private"
	case a.IsUnspecified():
		kind = "unspecified"
	case a.IsMulticast() || a.IsInterfaceLocalMulticast():
		kind = "multicast"
	case !a.IsGlobalUnicast():
		kind = "reserved"
	default:
		for _, r := range reserved {
			if r.Contains(a) {
				kind = "reserved"
				break
			}
		}
		if kind == "" {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is a %s address (allow it with --peer-allow)", ErrPeerNotAllowed, a, kind)
}

// resolve returns the addresses of host that the policy allows: none
// (and why) when it allows none. A host the allow list names is not
// resolved here; ok says so.
func (p *PeerPolicy) resolve(ctx context.Context, host string) (addrs []netip.Addr, named bool, err error) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if p.hosts[host] {
		return nil, true, nil
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if err := p.allowAddr(a); err != nil {
			return nil, false, err
		}
		return []netip.Addr{a.Unmap()}, false, nil
	}
	found, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, false, fmt.Errorf("resolving %s: %w", host, err)
	}
	var first error
	for _, a := range found {
		if err := p.allowAddr(a); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		addrs = append(addrs, a.Unmap())
	}
	if len(addrs) == 0 {
		if first == nil {
			first = fmt.Errorf("%s has no address", host)
		}
		return nil, false, fmt.Errorf("%s: %w", host, first)
	}
	return addrs, false, nil
}

// check returns nil when the policy may allow a normalized peer URL, or an
// *InputError saying why not. Addresses and "localhost" are checked here;
// other host names are checked each time they are dialed (see
// dialContext), where it matters, since what a name resolves to changes.
func (p *PeerPolicy) check(peerURL string) error {
	host := strings.ToLower(peerHost(peerURL))
	if p.hosts[host] {
		return nil
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		host = "127.0.0.1"
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return nil
	}
	if err := p.allowAddr(a); err != nil {
		return &InputError{Field: "node_address", Msg: fmt.Sprintf("%s: %v", peerURL, err)}
	}
	return nil
}

// dialContext dials only addresses the policy allows: it resolves the
// host itself and connects to a checked address, never to the name.
func (p *PeerPolicy) dialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		addrs, named, err := p.resolve(ctx, host)
		if err != nil {
			return nil, err
		}
		if named {
			return d.DialContext(ctx, network, addr)
		}
		var first error
		for _, a := range addrs {
			c, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
			if err == nil {
				return c, nil
			}
			if first == nil {
				first = err
			}
		}
		return nil, first
	}
}

// peerHost returns the host of a normalized peer URL, without brackets.
func peerHost(peerURL string) string {
	rest := peerURL[strings.Index(peerURL, "://")+3:]
	rest = rest[:strings.IndexByte(rest, '/')]
	if h, _, err := net.SplitHostPort(rest); err == nil {
		return h
	}
	return strings.Trim(rest, "[]")
}

// validHostName reports whether s is a DNS host name: labels of letters,
// digits and hyphens, not starting or ending with a hyphen, of at most 63
// bytes, 253 in all.
func validHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
