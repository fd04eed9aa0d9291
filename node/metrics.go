package node

import (
	"github.com/dakkio/dakkio/cluster"
	"github.com/dakkio/dakkio/internal/nodemetrics"
)

// newCollector gives the metrics collector the parts it reads at each
// scrape; gossip starts after New, so its views are read at each call.
func (n *Node) newCollector() *nodemetrics.Collector {
	src := nodemetrics.Sources{
		Raft: n.raft, Alerts: n.alerts, Queue: n.queue, Points: n.pts, Replication: n.repl,
		Servers: func() int { return len(n.serverIDs()) },
		Members: n.clusterMembers,
	}
	// Left nil on a lone node: no typed nil pointer inside an interface.
	if n.cfg.clustered() {
		src.Metadata = n.meta
	}
	if n.hints != nil {
		src.Hints = n.hints
	}
	return nodemetrics.New(src)
}

// clusterMembers is gossip's view of the cluster; none on a single node.
func (n *Node) clusterMembers() []cluster.Member {
	if n.members == nil {
		return nil
	}
	return n.members.Members()
}
