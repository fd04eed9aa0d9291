package node

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"

	"github.com/dakkio/dakkio/cluster"
	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// BackupMetadata returns the metadata as one snapshot (store.WriteSnapshot's
// JSON), taken after a read barrier so that it holds every change committed
// before the call, and the Raft index it is at least as new as.
func (n *Node) BackupMetadata(ctx context.Context) ([]byte, uint64, error) {
	if err := n.ReadBarrier(ctx); err != nil {
		return nil, 0, err
	}
	// Read before the snapshot: the state can only be as new or newer.
	index := n.raft.Status().AppliedIndex
	var buf bytes.Buffer
	if err := store.WriteSnapshot(&buf, n.state.Snapshot()); err != nil {
		return nil, 0, fmt.Errorf("cannot write metadata snapshot: %w", err)
	}
	return buf.Bytes(), index, nil
}

// restoredBatches counts the batches RestorePoints took, for the chaos bug
// restore-drops-batches.
var restoredBatches atomic.Int64

// RestorePoints stores points of a restored bucket on every one of its
// replicas (replication.(*Replicator).Restore).
func (n *Node) RestorePoints(ctx context.Context, bucketID string, pts []points.Point) error {
	if _, ok := n.state.BucketRetention(bucketID); !ok {
		return &store.Error{Kind: store.ErrNotFound, Message: "Bucket " + bucketID + " is not in the restored metadata"}
	}
	// Counted, not chosen by timestamp: a restore of one or two batches
	// must still lose one, or the bug would go unseen by chance.
	if chaosBug == "restore-drops-batches" && restoredBatches.Add(1)%3 == 1 {
		return nil // acknowledged, stored nowhere
	}
	return n.repl.Restore(ctx, bucketID, pts)
}

// placeRestore places every bucket of a restored backup on this cluster's
// Raft servers, as the leader places a new bucket: the backup's placement
// names the nodes of another cluster.
func (n *Node) placeRestore(c store.RestoreState) store.RestoreState {
	if len(c.Placement) > 0 || n.members == nil || !n.raft.IsLeader() {
		return c
	}
	ids := n.serverIDs()
	if ids == nil {
		return c
	}
	buckets, _, err := store.BackupBuckets(c.Snapshot)
	if err != nil {
		return c // the FSM refuses the snapshot with the same error
	}
	c.Placement = make(map[string][]string, len(buckets))
	for _, b := range buckets {
		c.Placement[b.ID] = cluster.PlaceReplicas(b.ID, ids, n.cfg.ReplicationFactor)
	}
	return c
}
