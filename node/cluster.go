package node

import (
	"fmt"
	"slices"
	"time"

	"github.com/dakkio/dakkio/cluster"
	"github.com/dakkio/dakkio/internal/nodeauth"
	"github.com/dakkio/dakkio/internal/peerrpc"
)

// startMembership joins gossip with this node's addresses and starts the
// manager that bootstraps and reconciles Raft from it.
func (n *Node) startMembership() (err error) {
	// Calls to other nodes resolve their addresses through gossip.
	if n.rpc, err = peerrpc.NewClient(peerrpc.Config{
		Key: n.rpcKey(), HTTP: n.peerClient(), TLS: n.tlsConf != nil, Resolve: n.peerHTTP,
	}); err != nil {
		return err
	}
	httpAddr := n.cfg.advertise(n.ln.Addr().String())
	if httpAddr == "" {
		httpAddr = n.ln.Addr().String()
	}
	m, err := cluster.NewMembership(cluster.MembershipConfig{
		Meta:          cluster.NodeMeta{ID: n.cfg.NodeID, HTTPAddr: httpAddr, RaftAddr: n.raft.Addr(), Version: "1"},
		BindAddr:      n.cfg.GossipAddr,
		AdvertiseAddr: n.cfg.advertise(n.cfg.GossipAddr),
		ClusterKey:    n.cfg.ClusterKey,
		// Besides the configured seeds, rejoin the peers seen before a
		// restart: a node whose seed is down would otherwise stay alone.
		Join:   append(slices.Clone(n.cfg.Join), n.peers.Known()...),
		Fast:   n.cfg.FastRaft,
		Logger: n.cfg.Logger,
	})
	if err != nil {
		return fmt.Errorf("cannot start gossip: %w", err)
	}
	n.members = m
	// A joining node votes once it has kept up with the leader for
	// stabilization; Fast Raft's shorter timeouts shorten that too.
	interval, stabilization := time.Second, 10*time.Second
	if n.cfg.FastRaft {
		interval, stabilization = 100*time.Millisecond, 2*time.Second
	}
	n.manager = cluster.NewManager(cluster.ManagerConfig{
		Raft: n.raft, Membership: m, Self: n.cfg.NodeID, BootstrapExpect: n.cfg.BootstrapExpect,
		DeadAfter: n.cfg.DeadAfter, Interval: interval, Stabilization: stabilization,
		Logger: n.cfg.Logger, OnMembers: n.peers.Remember,
	})
	return nil
}

// peersFile keeps the gossip addresses of the other live members.
const peersFile = "gossip-peers.json"

// KnownPeers returns the gossip addresses this node rejoins after a restart.
func (n *Node) KnownPeers() []string { return n.peers.Known() }

// RaftAddr is the address this node's Raft listens on.
func (n *Node) RaftAddr() string { return n.raft.Addr() }

// GossipAddr is the address other nodes join through ("" on a lone node).
func (n *Node) GossipAddr() string {
	if n.members == nil {
		return ""
	}
	return n.members.GossipAddr()
}

func (n *Node) rpcKey() []byte {
	if n.cfg.ClusterKey == "" {
		return nil
	}
	return nodeauth.DeriveKey(n.cfg.ClusterKey, nodeauth.PurposeRPC)
}

// forget keeps the leader's reconcile from adding a removed node straight
// back while gossip may still call it alive; nothing to do on a lone node.
func (n *Node) forget(id string) {
	if n.manager != nil {
		n.manager.Forget(id)
	}
}

// leaveCluster hands leadership away and says goodbye on gossip, so the
// others neither wait for an election timeout nor take this node for dead.
func (n *Node) leaveCluster() error {
	if n.members == nil {
		return nil
	}
	n.manager.Close()
	if err := n.raft.TransferLeadership(); err != nil {
		n.log.Warn("cannot transfer leadership", "err", err)
	}
	return n.members.Close()
}
