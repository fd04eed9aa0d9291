package replication

import (
	"context"
	"log/slog"
	"time"

	"github.com/dakkio/dakkio/internal/peerrpc"
	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// Local is this node's own points store (*points.DB).
type Local interface {
	peerrpc.LocalPoints
	Write(ctx context.Context, bucketID string, pts []points.Point) error
	Buckets() []string
	DeleteBucket(bucketID string) int64
	Merge(ctx context.Context, bucketID string, pts []points.Point) (int, error)
	Announce() (withdraw func())
}

// Peers makes the calls to other nodes (*peerrpc.Client).
type Peers interface {
	Write(ctx context.Context, nodeID string, body []byte) error
	Read(ctx context.Context, nodeID string, req peerrpc.PointsRequest) (peerrpc.ReadAnswer, error)
	Digests(ctx context.Context, nodeID string, rg points.Range) ([]points.HourDigest, error)
	HourPoints(ctx context.Context, nodeID, bucketID, sourceID string, hour int64) ([]points.Point, error)
	Ping(ctx context.Context, nodeID string) error
}

// Cluster is what replication sees of the cluster: placements and
// retention from the replicated state, liveness from gossip, servers and
// leadership from Raft.
type Cluster interface {
	// Clustered is false on a lone node, which keeps every bucket itself.
	Clustered() bool
	Placement(bucketID string) store.PlacementView
	Placements() map[string]store.PlacementView
	// Retention is the bucket's retention in days; false when this node
	// does not know the bucket (deleted, or not applied yet).
	Retention(bucketID string) (days int, known bool)
	// Alive reports whether gossip sees the node alive.
	Alive(nodeID string) bool
	// AliveIDs lists the nodes gossip sees alive, this one included.
	AliveIDs() []string
	// Servers lists the Raft servers' ids; nil when they cannot be read.
	Servers() []string
	IsLeader() bool
	LastContact() time.Time
}

// Deps is what the Replicator works with; node provides them.
type Deps struct {
	// Self is this node's id.
	Self    string
	Local   Local
	Peers   Peers
	Cluster Cluster
	// Hints queues writes a replica missed; nil on a lone node.
	Hints *Hints
	// WriteLive stores a client's batch locally and queues it for alert
	// evaluation.
	WriteLive func(ctx context.Context, bucketID string, pts []points.Point) error
	// WriteHistory stores a restored batch locally, not evaluated.
	WriteHistory func(ctx context.Context, bucketID string, pts []points.Point) error
	// IsEvaluator reports whether this node evaluates the bucket's alert
	// rules.
	IsEvaluator func(bucketID string) bool
	// CaughtUp records that this pending replica caught up with the bucket.
	CaughtUp func(ctx context.Context, bucketID string) error
	// ReadBarrier returns once this node has applied everything committed.
	ReadBarrier func(ctx context.Context) error
	// BeforePass runs before each repair pass (the leader re-places the
	// buckets of removed nodes there).
	BeforePass func()
	// ChaosBug is the deliberate bug of a chaos build, "" otherwise.
	ChaosBug string
	// Now is the clock of hint ages and retention. Default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

func (d *Deps) setDefaults() {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.BeforePass == nil {
		d.BeforePass = func() {}
	}
}
