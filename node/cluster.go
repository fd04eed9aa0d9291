package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/dakkio/dakkio/cluster"
	"github.com/dakkio/dakkio/internal/nodeauth"
	"github.com/dakkio/dakkio/internal/peerrpc"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store"
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
		Join:   append(slices.Clone(n.cfg.Join), n.knownPeers()...),
		Fast:   n.cfg.FastRaft,
		Logger: n.cfg.Logger,
	})
	if err != nil {
		return fmt.Errorf("cannot start gossip: %w", err)
	}
	n.members = m
	interval := time.Second
	if n.cfg.FastRaft {
		interval = 100 * time.Millisecond
	}
	n.manager = cluster.NewManager(cluster.ManagerConfig{
		Raft: n.raft, Membership: m, Self: n.cfg.NodeID, BootstrapExpect: n.cfg.BootstrapExpect,
		DeadAfter: n.cfg.DeadAfter, Interval: interval, Logger: n.cfg.Logger, OnMembers: n.rememberPeers,
	})
	return nil
}

// peersFile keeps the gossip addresses of the other live members.
const peersFile = "gossip-peers.json"

// rememberPeers writes the other live members' gossip addresses to the
// data directory when they change.
func (n *Node) rememberPeers(members []cluster.Member) {
	var addrs []string
	for _, m := range members {
		if m.ID != n.cfg.NodeID && m.State == cluster.Alive && m.GossipAddr != "" {
			addrs = append(addrs, m.GossipAddr)
		}
	}
	slices.Sort(addrs)
	if len(addrs) == 0 || slices.Equal(addrs, n.lastPeers) {
		return
	}
	b, err := json.Marshal(addrs)
	if err != nil {
		return
	}
	path := filepath.Join(n.cfg.DataDir, peersFile)
	if err := os.WriteFile(path+".tmp", b, 0o600); err == nil {
		err = os.Rename(path+".tmp", path)
	}
	if err != nil {
		n.log.Warn("cannot remember gossip peers", "err", err)
		return
	}
	n.lastPeers = addrs
}

// KnownPeers returns the gossip addresses this node rejoins after a restart.
func (n *Node) KnownPeers() []string { return n.knownPeers() }

// RaftAddr is the address this node's Raft listens on.
func (n *Node) RaftAddr() string { return n.raft.Addr() }

// knownPeers returns the gossip addresses remembered by rememberPeers.
func (n *Node) knownPeers() []string {
	b, err := os.ReadFile(filepath.Join(n.cfg.DataDir, peersFile))
	if err != nil {
		return nil
	}
	var addrs []string
	if json.Unmarshal(b, &addrs) != nil {
		return nil
	}
	return addrs
}

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

// Apply commits a metadata command: through the local Raft when this node
// leads, else by forwarding it to the leader. When the cluster cannot
// commit now, the error wraps replication.ErrUnavailable.
func (n *Node) Apply(ctx context.Context, cmd any) (any, error) {
	// The points a bucket delete removes live on its replicas, which the
	// leader need not be one of: count them here, before they go.
	var deleting int64 = -1
	if d, ok := cmd.(store.DeleteBucket); ok && n.members != nil {
		// Unknown (-1), the leader's own count stands.
		count, err := n.repl.BucketPointCount(ctx, d.ID)
		if err != nil {
			n.log.Warn("cannot count a bucket's points before deleting it", "bucket", d.ID, "err", err)
		} else {
			deleting = count
		}
	}
	if d, ok := cmd.(store.DeleteSource); ok && n.members != nil {
		deleting = n.sourcePointCount(ctx, d.BucketID, d.ID)
	}
	ruleBucket := n.ruleBucket(cmd)
	// The leader places new buckets; a follower forwards, and so does a
	// leader that lost its leadership in between.
	v, index, err := n.raft.ApplyIndexed(ctx, n.place(cmd))
	if errors.Is(err, cluster.ErrNotLeader) && n.members != nil {
		v, index, err = n.forward(ctx, cmd)
	}
	if err == nil && ruleBucket != "" {
		n.spreadRuleChange(ctx, ruleBucket, index)
	}
	if d, ok := v.(store.DeletedBucket); ok && err == nil && deleting >= 0 {
		d.DataPoints = deleting
		v = d
	}
	if d, ok := v.(store.DeletedSource); ok && err == nil && deleting >= 0 {
		d.DataPoints = deleting
		v = d
	}
	if err == nil && makesDeliveries(cmd) {
		n.alerts.Kick()
	}
	var se *store.Error
	if err != nil && !errors.As(err, &se) {
		return nil, fmt.Errorf("%w: %w", replication.ErrUnavailable, err)
	}
	return v, err
}

// forward sends cmd to the leader and returns what applying it there
// produced.
func (n *Node) forward(ctx context.Context, cmd any) (any, uint64, error) {
	body, err := cluster.EncodeForward(cmd)
	if err != nil {
		return nil, 0, err
	}
	leader := n.raft.Status().LeaderID
	if leader == "" {
		return nil, 0, fmt.Errorf("cannot forward to the leader: %w", cluster.ErrNoLeader)
	}
	out, index, err := n.rpc.Apply(ctx, leader, body)
	if errors.Is(err, peerrpc.ErrNotAlive) {
		return nil, 0, fmt.Errorf("cannot forward to the leader: %w", cluster.ErrNoLeader)
	}
	if err != nil {
		return nil, 0, err
	}
	v, err := cluster.DecodeResult(cmd, out)
	// Read your writes: answer only once this node has applied the entry,
	// so the caller's next request here sees what it just changed.
	if index > 0 {
		if werr := n.raft.WaitApplied(ctx, index); werr != nil {
			return nil, 0, werr
		}
	}
	return v, index, err
}

// ruleChangeWait bounds how long a rule change waits for the bucket's
// replicas to apply it.
const ruleChangeWait = 2 * time.Second

// ruleBucket returns the bucket of an alert rule that cmd creates, changes
// or deletes, and "" for any other command.
func (n *Node) ruleBucket(cmd any) string {
	if n.members == nil {
		return ""
	}
	var id string
	switch c := cmd.(type) {
	case store.CreateAlert:
		return c.Rule.BucketID
	case store.UpdateAlert:
		id = c.ID
	case store.DeleteAlert:
		id = c.ID
	default:
		return ""
	}
	r, _ := n.state.AlertByID(id)
	return r.BucketID
}

// spreadRuleChange returns once the bucket's live replicas have applied
// the rule change at index, or after ruleChangeWait. Whichever replica
// evaluates the bucket's points judges them by its own copy of the rules,
// and a follower hears of a commit only with the leader's next message: so
// that a point written after the change is acknowledged meets the rule as
// changed, the change is acknowledged only once they have it. A replica cut
// off from the leader cannot be waited for; it is logged, not failed, since
// the change is committed.
func (n *Node) spreadRuleChange(ctx context.Context, bucketID string, index uint64) {
	if index == 0 {
		return
	}
	p := n.state.BucketPlacement(bucketID)
	ctx, cancel := context.WithTimeout(ctx, ruleChangeWait)
	defer cancel()
	var wg sync.WaitGroup
	for _, id := range slices.Concat(p.Replicas, p.Pending) {
		if id == n.cfg.NodeID || n.peerHTTP(id) == "" {
			continue
		}
		wg.Go(func() {
			if err := n.rpc.WaitApplied(ctx, id, index); err != nil {
				n.log.Warn("a replica has not applied an alert rule change yet; it evaluates by its old rules until it does",
					"bucket", bucketID, "replica", id, "index", index, "err", err)
			}
		})
	}
	wg.Wait()
}

// serveApply is the handler of peerrpc.PathApply: it applies a command a
// follower forwarded. It never forwards again: a node that lost leadership
// answers 503 and the follower retries with the new leader.
func (n *Node) serveApply(ctx context.Context, body []byte) peerrpc.Answer {
	cmd, err := cluster.DecodeForward(body)
	if err != nil {
		return peerrpc.Answer{Status: http.StatusBadRequest, Body: []byte(err.Error())}
	}
	v, index, err := n.raft.ApplyIndexed(ctx, n.place(cmd))
	var se *store.Error
	if err != nil && !errors.As(err, &se) {
		return peerrpc.Answer{Status: http.StatusServiceUnavailable, Body: []byte(err.Error())}
	}
	if err == nil && makesDeliveries(cmd) {
		n.alerts.Kick()
	}
	out, err := cluster.EncodeResult(cmd, v, err)
	if err != nil {
		return peerrpc.Answer{Status: http.StatusInternalServerError, Body: []byte(err.Error())}
	}
	return peerrpc.Answer{Status: http.StatusOK, Index: index, Body: out}
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
