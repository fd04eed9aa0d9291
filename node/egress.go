package node

import (
	"net"
	"strconv"

	"github.com/dakkio/dakkio/internal/egress"
)

// webhookPolicy builds the egress policy of alert webhooks from the
// configured ranges and this node's ports.
func (n *Node) webhookPolicy() *egress.Policy {
	// Validate has parsed the ranges already.
	deny, _ := egress.ParsePrefixes(n.cfg.WebhookDenyCIDRs)
	allow, _ := egress.ParsePrefixes(n.cfg.WebhookAllowCIDRs)
	return egress.New(egress.Config{Deny: deny, Allow: allow, OwnPorts: n.ownPorts})
}

// ownPorts returns the ports this node listens on: HTTP, Raft and gossip.
func (n *Node) ownPorts() []uint16 {
	addrs := []string{n.ln.Addr().String()}
	if n.raft != nil {
		addrs = append(addrs, n.raft.Addr())
	}
	if n.members != nil {
		addrs = append(addrs, n.members.GossipAddr())
	}
	ports := make([]uint16, 0, len(addrs))
	for _, a := range addrs {
		if _, p, err := net.SplitHostPort(a); err == nil {
			if v, err := strconv.ParseUint(p, 10, 16); err == nil {
				ports = append(ports, uint16(v))
			}
		}
	}
	return ports
}
