package egress

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// DefaultDeny are the ranges refused unless an allow range lifts them:
// loopback, link-local (the cloud metadata services at 169.254.169.254
// among them) and the unspecified addresses, which reach the local machine;
// the metadata services that live elsewhere (AWS's IPv6 one, Alibaba's);
// and the NAT64 and 6to4 forms of loopback and link-local addresses, which
// a translating gateway turns back into them. IPv4-mapped IPv6 addresses
// are checked as the IPv4 address they map.
var DefaultDeny = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("fd00:ec2::254/128"),
	netip.MustParsePrefix("100.100.100.200/32"),
	netip.MustParsePrefix("64:ff9b::7f00:0/104"), // NAT64 of 127.0.0.0/8
	netip.MustParsePrefix("64:ff9b::a9fe:0/112"), // NAT64 of 169.254.0.0/16
	netip.MustParsePrefix("2002:7f00::/24"),      // 6to4 of 127.0.0.0/8
	netip.MustParsePrefix("2002:a9fe::/32"),      // 6to4 of 169.254.0.0/16
}

// Config configures a Policy. Every field is optional.
type Config struct {
	// Deny ranges are refused in addition to DefaultDeny.
	Deny []netip.Prefix
	// Allow ranges are permitted even inside a deny range. Where ranges
	// overlap the most specific one decides, and allow wins a tie: allowing
	// 127.0.0.0/8 lifts the default, and denying 127.0.0.2/32 within it
	// refuses that address again.
	Allow []netip.Prefix
	// OwnPorts returns the ports this node listens on (HTTP, Raft, gossip).
	// They are refused on every address of this machine, whatever Allow
	// says: no webhook has a reason to call the node itself.
	OwnPorts func() []uint16
	// LocalAddrs returns this machine's addresses, beside loopback and the
	// unspecified ones. Default: the addresses of its interfaces.
	LocalAddrs func() []netip.Addr
}

// Policy decides whether an address may be dialled. Its methods are safe
// for concurrent use.
type Policy struct {
	ranges     []rangeRule
	ownPorts   func() []uint16
	localAddrs func() []netip.Addr
}

type rangeRule struct {
	prefix netip.Prefix
	allow  bool
}

// New returns the policy cfg describes.
func New(cfg Config) *Policy {
	p := &Policy{ownPorts: cfg.OwnPorts, localAddrs: cfg.LocalAddrs}
	if p.localAddrs == nil {
		p.localAddrs = interfaceAddrs
	}
	for _, r := range DefaultDeny {
		p.ranges = append(p.ranges, rangeRule{prefix: r})
	}
	for _, r := range cfg.Deny {
		p.ranges = append(p.ranges, rangeRule{prefix: canonical(r)})
	}
	for _, r := range cfg.Allow {
		p.ranges = append(p.ranges, rangeRule{prefix: canonical(r), allow: true})
	}
	return p
}

// Check returns nil if addr may be dialled, else an error wrapping
// ErrBlocked that says why.
func (p *Policy) Check(addr netip.AddrPort) error {
	ip := addr.Addr().Unmap().WithZone("")
	shown := netip.AddrPortFrom(ip, addr.Port())
	if p.isOwnPort(ip, addr.Port()) {
		return fmt.Errorf("%w: %s is a port of this node", ErrBlocked, shown)
	}
	best := -1
	var decided rangeRule
	for _, r := range p.ranges {
		bits := r.prefix.Bits()
		if !r.prefix.Contains(ip) || bits < best || bits == best && !r.allow {
			continue
		}
		best, decided = bits, r
	}
	if best >= 0 && !decided.allow {
		return fmt.Errorf("%w: %s is in %s", ErrBlocked, shown, decided.prefix)
	}
	return nil
}

// CheckHost checks a URL's host and port when the host is a literal IP
// address; a name passes, to be checked once resolved, when dialled.
func (p *Policy) CheckHost(host string, port uint16) error {
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if err != nil {
		return nil
	}
	return p.Check(netip.AddrPortFrom(ip, port))
}

// CheckURL checks u's host and port (its scheme's default if none) when
// the host is a literal IP address, as CheckHost.
func (p *Policy) CheckURL(u *url.URL) error {
	port := uint16(80)
	if u.Scheme == "https" {
		port = 443
	}
	if n, err := strconv.ParseUint(u.Port(), 10, 16); err == nil {
		port = uint16(n)
	}
	return p.CheckHost(u.Hostname(), port)
}

func (p *Policy) isOwnPort(ip netip.Addr, port uint16) bool {
	if p.ownPorts == nil || !slices.Contains(p.ownPorts(), port) {
		return false
	}
	// All of 127.0.0.0/8 reaches a listener bound to 0.0.0.0 or 127.0.0.1.
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	return slices.Contains(p.localAddrs(), ip)
}

// canonical turns an IPv4-mapped range into its IPv4 form, so that it is
// compared with unmapped addresses.
func canonical(r netip.Prefix) netip.Prefix {
	r = r.Masked()
	if a := r.Addr(); a.Is4In6() && r.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), r.Bits()-96)
	}
	return r
}

func interfaceAddrs() []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

// ParsePrefixes parses ranges written as CIDRs ("10.0.0.0/8") or single
// addresses ("127.0.0.1", taken as /32 or /128).
func ParsePrefixes(items []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(items))
	for _, s := range items {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(s)
		if err != nil || ip.Zone() != "" {
			return nil, fmt.Errorf("invalid CIDR range %q", s)
		}
		out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return out, nil
}
