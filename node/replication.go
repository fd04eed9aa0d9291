package node

import (
	"context"
	"time"

	"github.com/dakkio/dakkio/internal/peerrpc"
	"github.com/dakkio/dakkio/node/alerting"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// newReplicator wires replication to this node. Gossip and the RPC client
// exist only once startMembership ran, so the views read them at each call.
func (n *Node) newReplicator() *replication.Replicator {
	return replication.New(n.cfg.Replication, replication.Deps{
		Self:    n.cfg.NodeID,
		Local:   n.pts,
		Peers:   peerCalls{n},
		Cluster: clusterView{n},
		Hints:   n.hints,
		// The queue is made after the Replicator, which writes only once started.
		WriteLive: func(ctx context.Context, bucketID string, pts []points.Point) error {
			return n.queue.WriteLive(ctx, bucketID, pts)
		},
		WriteHistory: func(ctx context.Context, bucketID string, pts []points.Point) error {
			return n.queue.WriteHistory(ctx, bucketID, pts)
		},
		IsEvaluator: n.isEvaluator,
		CaughtUp: func(ctx context.Context, bucketID string) error {
			_, err := n.meta.Apply(ctx, store.ReplicaCaughtUp{Bucket: bucketID, Node: n.cfg.NodeID})
			return err
		},
		ReadBarrier: n.ReadBarrier,
		// The leader re-places the buckets of removed nodes.
		BeforePass: n.placer.Reconcile,
		ChaosBug:   chaosBug,
		Now:        n.cfg.Now,
		Logger:     n.log,
	})
}

// servePoints is the handler of peerrpc.PathPoints: this node's own points,
// never routed again.
func (n *Node) servePoints() peerrpc.Handler {
	return peerrpc.PointsHandler(peerrpc.PointsConfig{
		DB:          n.pts,
		WaitApplied: n.raft.WaitApplied,
		InSync:      n.repl.ReplicaInSync,
	})
}

// peerHTTP returns a live node's HTTP address ("" if not alive).
func (n *Node) peerHTTP(id string) string {
	return n.members.AliveHTTPAddr(id)
}

// serverIDs returns the Raft servers' ids, or nil when they cannot be read.
func (n *Node) serverIDs() []string {
	servers, err := n.raft.Servers()
	if err != nil {
		return nil
	}
	ids := make([]string, len(servers))
	for i, s := range servers {
		ids[i] = s.ID
	}
	return ids
}

// isEvaluator reports whether this node evaluates the bucket's alert rules:
// a lone node evaluates every bucket (alerting.Evaluates in a cluster).
func (n *Node) isEvaluator(bucketID string) bool {
	alive := func(id string) bool { return n.peerHTTP(id) != "" }
	return n.members == nil || alerting.Evaluates(n.cfg.NodeID, n.state.BucketReplicas(bucketID), alive, n.raft.IsLeader)
}

// clusterView is replication.Cluster and metadata.Cluster over this node's
// state, gossip and Raft.
type clusterView struct{ n *Node }

func (v clusterView) Clustered() bool { return v.n.members != nil }
func (v clusterView) Placement(bucketID string) store.PlacementView {
	return v.n.state.BucketPlacement(bucketID)
}
func (v clusterView) Placements() map[string]store.PlacementView { return v.n.state.Placements() }
func (v clusterView) Retention(bucketID string) (int, bool) {
	return v.n.state.BucketRetention(bucketID)
}
func (v clusterView) Alive(id string) bool { return v.n.peerHTTP(id) != "" }
func (v clusterView) AliveURL(id string) string {
	if addr := v.n.peerHTTP(id); addr != "" {
		return v.n.peerURL(addr, "")
	}
	return ""
}
func (v clusterView) AliveIDs() []string {
	alive := v.n.members.Alive()
	ids := make([]string, len(alive))
	for i, m := range alive {
		ids[i] = m.ID
	}
	return ids
}
func (v clusterView) Servers() []string      { return v.n.serverIDs() }
func (v clusterView) IsLeader() bool         { return v.n.raft.IsLeader() }
func (v clusterView) LastContact() time.Time { return v.n.raft.LastContact() }

// peerCalls is replication.Peers and metadata.Peers over this node's RPC
// client.
type peerCalls struct{ n *Node }

func (p peerCalls) Write(ctx context.Context, id string, body []byte) error {
	return p.n.rpc.Write(ctx, id, body)
}
func (p peerCalls) Read(ctx context.Context, id string, req peerrpc.PointsRequest) (peerrpc.ReadAnswer, error) {
	return p.n.rpc.Read(ctx, id, req)
}
func (p peerCalls) Digests(ctx context.Context, id string, rg points.Range) ([]points.HourDigest, error) {
	return p.n.rpc.Digests(ctx, id, rg)
}
func (p peerCalls) HourPoints(ctx context.Context, id, bucketID, sourceID string, hour int64) ([]points.Point, error) {
	return p.n.rpc.HourPoints(ctx, id, bucketID, sourceID, hour)
}
func (p peerCalls) Ping(ctx context.Context, id string) error { return p.n.rpc.Ping(ctx, id) }
func (p peerCalls) Apply(ctx context.Context, leaderID string, cmd []byte) ([]byte, uint64, error) {
	return p.n.rpc.Apply(ctx, leaderID, cmd)
}
func (p peerCalls) ReadIndex(ctx context.Context, leaderID, from string) (uint64, error) {
	return p.n.rpc.ReadIndex(ctx, leaderID, from)
}
func (p peerCalls) WaitApplied(ctx context.Context, id string, index uint64) error {
	return p.n.rpc.WaitApplied(ctx, id, index)
}

// alertPoints gives alert rules the bucket's points; their reads accept
// partial answers.
type alertPoints struct{ *replication.Replicator }

func (p alertPoints) Raw(ctx context.Context, q points.RawQuery) (points.RawResult, error) {
	return p.Replicator.Raw(ctx, q, nil)
}
