package metadata

import (
	"context"
	"log/slog"
	"time"

	"github.com/dakkio/dakkio/cluster"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// Raft is this node's Raft member (*cluster.Raft).
type Raft interface {
	// ApplyIndexed commits cmd and returns what applying it produced and
	// its log index; cluster.ErrNotLeader on a follower.
	ApplyIndexed(ctx context.Context, cmd any) (any, uint64, error)
	IsLeader() bool
	Status() cluster.Status
	// ReadIndex is the leader's commit index, once it confirmed it leads.
	ReadIndex() (uint64, error)
	// WaitApplied returns once this node has applied index.
	WaitApplied(ctx context.Context, index uint64) error
	// LeaderSince is when this node took over as leader for the current
	// term; false unless it leads.
	LeaderSince() (time.Time, bool)
}

// Voters changes the Raft configuration (*cluster.Raft); only RemoveNode
// uses it.
type Voters interface {
	Servers() ([]cluster.Server, error)
	RemoveServer(id string) error
	TransferLeadership() error
}

// Peers makes the calls to other nodes (*peerrpc.Client).
type Peers interface {
	Apply(ctx context.Context, leaderID string, cmd []byte) (result []byte, index uint64, err error)
	ReadIndex(ctx context.Context, leaderID, from string) (uint64, error)
	WaitApplied(ctx context.Context, nodeID string, index uint64) error
}

// Cluster is what the Service sees of gossip.
type Cluster interface {
	// Clustered is false on a lone node: nothing to forward to or catch
	// up with.
	Clustered() bool
	// AliveURL is the HTTP base URL of a node gossip sees alive, "" when
	// it does not.
	AliveURL(nodeID string) string
}

// Points counts the points a delete is about to remove, on the bucket's
// replicas (*replication.Replicator).
type Points interface {
	BucketPointCount(ctx context.Context, bucketID string) (int64, error)
	Count(ctx context.Context, r points.Range, note *replication.ReadNote) (int64, error)
}

// Config configures a Service. Self, State, Raft, Cluster and Peers are
// required; the rest are optional.
type Config struct {
	// Self is this node's id.
	Self  string
	State *store.State
	Raft  Raft
	// Cluster and Peers are read at each call: gossip and the calls to
	// other nodes may start after New.
	Cluster Cluster
	Peers   Peers
	// Points counts what a delete removes; nil leaves the leader's own
	// count in the answer.
	Points Points
	// Voters lets RemoveNode change the Raft configuration, and lists the
	// servers a withdrawing change must reach (settle); Forget, if
	// set, is told of a node removed, so that gossip, which may still call
	// it alive, does not add it straight back (cluster.Manager.Forget).
	// RemoveNode needs Voters.
	Voters Voters
	Forget func(id string)
	// Place completes a command before the leader commits it (a new
	// bucket's replicas). Default: the command as it is.
	Place func(cmd any) any
	// Applied is told of every command committed through this node
	// (the alert engine wakes its delivery loop). Optional.
	Applied func(cmd any)
	// KeyLease is how long API keys are trusted after this node last
	// confirmed it was current. Default 5s.
	KeyLease time.Duration
	// ChaosBug is the deliberate bug of a chaos build, "" otherwise.
	ChaosBug string
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Place == nil {
		c.Place = func(cmd any) any { return cmd }
	}
	if c.Applied == nil {
		c.Applied = func(any) {}
	}
	if c.KeyLease == 0 {
		c.KeyLease = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}
