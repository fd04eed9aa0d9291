package node

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/dakkio/dakkio/cluster"
	"github.com/dakkio/dakkio/store"
)

// place gives a new bucket its replicas, ReplicationFactor of the Raft
// servers by rendezvous hashing, when this node leads (a follower's
// placement would be overwritten by the leader's anyway).
func (n *Node) place(cmd any) any {
	if r, ok := cmd.(store.RestoreState); ok {
		return n.placeRestore(r)
	}
	c, ok := cmd.(store.CreateBucket)
	if !ok || len(c.Replicas) > 0 || n.members == nil || !n.raft.IsLeader() {
		return cmd
	}
	servers, err := n.raft.Servers()
	if err != nil {
		return cmd
	}
	ids := make([]string, 0, len(servers))
	for _, s := range servers {
		ids = append(ids, s.ID)
	}
	c.Replicas = cluster.PlaceReplicas(c.Bucket.ID, ids, n.cfg.ReplicationFactor)
	return c
}

// reconcilePlacement, on the leader, replaces in every placement the nodes
// that are no longer Raft servers: each bucket gets new pending replicas,
// which copy it from the survivors, up to the replication factor.
func (n *Node) reconcilePlacement() {
	servers := n.serverIDs()
	if len(servers) == 0 {
		return
	}
	rf := min(n.cfg.ReplicationFactor, len(servers))
	gone := func(id string) bool { return !slices.Contains(servers, id) }
	var moves []store.Move
	for b, p := range n.state.Placements() {
		if !slices.ContainsFunc(p.Replicas, gone) && !slices.ContainsFunc(p.Pending, gone) && !slices.ContainsFunc(p.Leaving, gone) {
			continue
		}
		m := store.Move{
			Bucket:   b,
			Replicas: slices.DeleteFunc(p.Replicas, gone),
			Pending:  slices.DeleteFunc(p.Pending, gone),
			Leaving:  slices.DeleteFunc(p.Leaving, gone),
		}
		for _, id := range cluster.PlaceReplicas(b, servers, len(servers)) {
			if len(m.Replicas)+len(m.Pending)-len(m.Leaving) >= rf {
				break
			}
			if !slices.Contains(m.Replicas, id) && !slices.Contains(m.Pending, id) {
				m.Pending = append(m.Pending, id)
			}
		}
		if len(m.Replicas) == 0 {
			// No survivor holds the bucket: the new nodes serve what they get.
			m.Replicas, m.Pending = m.Pending, nil
		}
		moves = append(moves, m)
	}
	if len(moves) == 0 {
		return
	}
	slices.SortFunc(moves, func(a, b store.Move) int { return cmp.Compare(a.Bucket, b.Bucket) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.meta.Apply(ctx, store.Rebalance{Moves: moves}); err != nil {
		n.log.Warn("cannot re-replicate the buckets of removed nodes", "buckets", len(moves), "err", err)
		return
	}
	n.log.Info("re-replicating the buckets of removed nodes", "buckets", len(moves))
}

// Rebalance moves buckets onto the replicas rendezvous hashing picks over
// the current servers (after nodes were added): each move adds the new
// replicas as pending and drops the old ones once they have caught up.
// Buckets with a move in progress are left alone. It returns the moves.
func (n *Node) Rebalance(ctx context.Context) (any, error) {
	servers := n.serverIDs()
	if n.members == nil || len(servers) == 0 {
		return map[string]any{"moves": []store.Move{}}, nil
	}
	rf := min(n.cfg.ReplicationFactor, len(servers))
	moves := []store.Move{}
	for b, p := range n.state.Placements() {
		if len(p.Pending) > 0 || len(p.Leaving) > 0 {
			continue
		}
		want := cluster.PlaceReplicas(b, servers, rf)
		add := slices.DeleteFunc(slices.Clone(want), func(id string) bool { return slices.Contains(p.Replicas, id) })
		drop := slices.DeleteFunc(slices.Clone(p.Replicas), func(id string) bool { return slices.Contains(want, id) })
		if len(add) == 0 && len(drop) == 0 {
			continue
		}
		moves = append(moves, store.Move{Bucket: b, Replicas: p.Replicas, Pending: add, Leaving: drop})
	}
	slices.SortFunc(moves, func(a, b store.Move) int { return cmp.Compare(a.Bucket, b.Bucket) })
	if len(moves) > 0 {
		if _, err := n.meta.Apply(ctx, store.Rebalance{Moves: moves}); err != nil {
			return nil, err
		}
	}
	return map[string]any{"moves": moves}, nil
}
