// Package clusterstatus builds the document served at
// /api/operator/cluster: the Raft servers as gossip and Raft see them,
// bucket placement and moves, hinted handoff, repair and replication
// counters. It reads each part through the interfaces of Sources at each
// call, so that the node only wires it.
package clusterstatus

import (
	"log/slog"

	"github.com/dakkio/dakkio/cluster"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store"
)

// Sources are the parts of a node the document reads. Hints and
// Replication are read only when Members returns gossip's view.
type Sources struct {
	// Self is this node's id, HTTPAddr the address others reach its API at.
	Self     string
	HTTPAddr string
	Raft     interface {
		Status() cluster.Status
		Servers() ([]cluster.Server, error)
	}
	// Members is gossip's view of the cluster; nil on a lone node.
	Members func() []cluster.Member
	// Ready reports whether this node serves (node.Node.Ready).
	Ready func() bool
	State *store.State
	Hints interface {
		Status() []replication.HintQueueStatus
	}
	Replication interface {
		RepairStatus() replication.RepairStatus
		Counters() replication.Counters
	}
	Logger *slog.Logger
}

// NodeStatus is one node as /api/operator/cluster shows it.
type NodeStatus struct {
	NodeID      string `json:"nodeId"`
	HTTPAddress string `json:"httpAddress"`
	RaftAddress string `json:"raftAddress"`
	State       string `json:"state"`
	Voter       bool   `json:"voter"`
	Healthy     bool   `json:"healthy"`
}

// Document describes the cluster as this node sees it.
func Document(src Sources) map[string]any {
	rs := src.Raft.Status()
	servers, err := src.Raft.Servers()
	if err != nil {
		src.Logger.Warn("cannot read raft configuration", "err", err)
	}
	var members []cluster.Member
	if src.Members != nil {
		members = src.Members()
	}
	// What gossip says of each node: its HTTP address and whether it lives.
	gossip := map[string]cluster.Member{}
	for _, m := range members {
		gossip[m.ID] = m
	}
	nodes := make([]NodeStatus, 0, len(servers))
	for _, s := range servers {
		ns := NodeStatus{NodeID: s.ID, RaftAddress: s.Address, Voter: s.Voter, State: "Follower"}
		if s.ID == rs.LeaderID {
			ns.State = "Leader"
		}
		if m, ok := gossip[s.ID]; ok {
			ns.HTTPAddress = m.HTTPAddr
			ns.Healthy = m.State == cluster.Alive
			if !ns.Healthy {
				ns.State = m.State.String()
			}
		}
		if s.ID == src.Self {
			ns.HTTPAddress = src.HTTPAddr
			ns.State = rs.State
			ns.Healthy = src.Ready()
		}
		nodes = append(nodes, ns)
	}
	doc := map[string]any{"nodeId": src.Self, "leaderId": rs.LeaderID, "nodes": nodes, "raft": rs, "placement": src.State.Placement()}
	if src.Members != nil {
		moves := map[string]store.PlacementView{}
		for b, p := range src.State.Placements() {
			if len(p.Pending)+len(p.Leaving) > 0 {
				moves[b] = p
			}
		}
		doc["moves"] = moves
		doc["hintedHandoff"] = src.Hints.Status()
		doc["repair"] = src.Replication.RepairStatus()
		doc["replication"] = src.Replication.Counters()
	}
	return doc
}
