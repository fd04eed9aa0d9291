package egress

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Control is a net.Dialer Control function: it refuses the connection
// before it is made when the address being dialled, already resolved, is
// refused. Checking here and not on the URL's name is what defeats DNS
// rebinding: it is the very IP the socket connects to.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse dialled address %q", ErrBlocked, address)
	}
	return p.Check(ap)
}

// Transport returns an HTTP transport whose every connection passes the
// policy. It uses no proxy: through a proxy the policy would see only the
// proxy's address, and the proxy would reach the refused one.
func (p *Policy) Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	p.Restrict(t)
	return t
}

// Restrict makes t dial through the policy, without a proxy.
func (p *Policy) Restrict(t *http.Transport) {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: p.Control}
	t.Proxy = nil
	// Any other dial function would bypass the check.
	t.Dial, t.DialTLS, t.DialTLSContext = nil, nil, nil
	t.DialContext = d.DialContext
}
