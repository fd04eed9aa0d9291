package node

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"

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
