package cluster

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/dakkio/dakkio/store"
)

// PlacerConfig configures a Placer. Every field is required but Logger.
type PlacerConfig struct {
	State *store.State
	// Clustered is false on a lone node, which keeps every bucket itself.
	Clustered func() bool
	IsLeader  func() bool
	// Servers lists the Raft servers' ids; nil when they cannot be read.
	Servers func() []string
	// ReplicationFactor is how many servers hold each bucket.
	ReplicationFactor int
	// Apply commits a metadata command (metadata.Service.Apply).
	Apply func(ctx context.Context, cmd any) (any, error)
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// Placer decides, on the leader, which servers hold each bucket's points:
// a new or restored bucket's replicas, the replacement of removed nodes,
// and the moves a rebalance starts. Every choice is PlaceReplicas over the
// Raft servers, so any leader chooses alike.
type Placer struct {
	cfg PlacerConfig
}

// NewPlacer returns a Placer.
func NewPlacer(cfg PlacerConfig) *Placer {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Placer{cfg: cfg}
}

// Place gives a new bucket its replicas, ReplicationFactor of the Raft
// servers by rendezvous hashing, when this node leads (a follower's
// placement would be overwritten by the leader's anyway); a restored
// backup's buckets likewise. Other commands pass unchanged.
func (p *Placer) Place(cmd any) any {
	if r, ok := cmd.(store.RestoreState); ok {
		return p.placeRestore(r)
	}
	c, ok := cmd.(store.CreateBucket)
	if !ok || len(c.Replicas) > 0 || !p.cfg.Clustered() || !p.cfg.IsLeader() {
		return cmd
	}
	ids := p.cfg.Servers()
	if ids == nil {
		return cmd
	}
	c.Replicas = PlaceReplicas(c.Bucket.ID, ids, p.cfg.ReplicationFactor)
	return c
}

// placeRestore places every bucket of a restored backup on this cluster's
// Raft servers, as the leader places a new bucket: the backup's placement
// names the nodes of another cluster.
func (p *Placer) placeRestore(c store.RestoreState) store.RestoreState {
	if len(c.Placement) > 0 || !p.cfg.Clustered() || !p.cfg.IsLeader() {
		return c
	}
	ids := p.cfg.Servers()
	if ids == nil {
		return c
	}
	buckets, _, err := store.BackupBuckets(c.Snapshot)
	if err != nil {
		return c // the FSM refuses the snapshot with the same error
	}
	c.Placement = make(map[string][]string, len(buckets))
	for _, b := range buckets {
		c.Placement[b.ID] = PlaceReplicas(b.ID, ids, p.cfg.ReplicationFactor)
	}
	return c
}

// Reconcile, on the leader, replaces in every placement the nodes that
// are no longer Raft servers: each bucket gets new pending replicas, which
// copy it from the survivors, up to the replication factor.
func (p *Placer) Reconcile() {
	if !p.cfg.IsLeader() {
		return
	}
	servers := p.cfg.Servers()
	if len(servers) == 0 {
		return
	}
	rf := min(p.cfg.ReplicationFactor, len(servers))
	gone := func(id string) bool { return !slices.Contains(servers, id) }
	var moves []store.Move
	for b, pl := range p.cfg.State.Placements() {
		if !slices.ContainsFunc(pl.Replicas, gone) && !slices.ContainsFunc(pl.Pending, gone) && !slices.ContainsFunc(pl.Leaving, gone) {
			continue
		}
		m := store.Move{
			Bucket:   b,
			Replicas: slices.DeleteFunc(pl.Replicas, gone),
			Pending:  slices.DeleteFunc(pl.Pending, gone),
			Leaving:  slices.DeleteFunc(pl.Leaving, gone),
		}
		for _, id := range PlaceReplicas(b, servers, len(servers)) {
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
	if _, err := p.cfg.Apply(ctx, store.Rebalance{Moves: moves}); err != nil {
		p.cfg.Logger.Warn("cannot re-replicate the buckets of removed nodes", "buckets", len(moves), "err", err)
		return
	}
	p.cfg.Logger.Info("re-replicating the buckets of removed nodes", "buckets", len(moves))
}

// Rebalance moves buckets onto the replicas rendezvous hashing picks over
// the current servers (after nodes were added): each move adds the new
// replicas as pending and drops the old ones once they have caught up.
// Buckets with a move in progress are left alone. It returns the moves.
func (p *Placer) Rebalance(ctx context.Context) (any, error) {
	servers := p.cfg.Servers()
	if !p.cfg.Clustered() || len(servers) == 0 {
		return map[string]any{"moves": []store.Move{}}, nil
	}
	rf := min(p.cfg.ReplicationFactor, len(servers))
	moves := []store.Move{}
	for b, pl := range p.cfg.State.Placements() {
		if len(pl.Pending) > 0 || len(pl.Leaving) > 0 {
			continue
		}
		want := PlaceReplicas(b, servers, rf)
		add := slices.DeleteFunc(slices.Clone(want), func(id string) bool { return slices.Contains(pl.Replicas, id) })
		drop := slices.DeleteFunc(slices.Clone(pl.Replicas), func(id string) bool { return slices.Contains(want, id) })
		if len(add) == 0 && len(drop) == 0 {
			continue
		}
		moves = append(moves, store.Move{Bucket: b, Replicas: pl.Replicas, Pending: add, Leaving: drop})
	}
	slices.SortFunc(moves, func(a, b store.Move) int { return cmp.Compare(a.Bucket, b.Bucket) })
	if len(moves) > 0 {
		if _, err := p.cfg.Apply(ctx, store.Rebalance{Moves: moves}); err != nil {
			return nil, err
		}
	}
	return map[string]any{"moves": moves}, nil
}
