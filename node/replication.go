package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/dakkio/dakkio/internal/peerrpc"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store/points"
)

// replicate writes pts to every replica of the bucket in parallel and
// returns once the consistency asked in ctx is met, or with a wrapped
// replication.ErrUnavailable once it cannot be. Replicas the write did not
// reach get a hint, also when the write as a whole failed: the client will
// retry, and the retry changes nothing where the points already are.
func (r routedPoints) replicate(ctx context.Context, bucketID string, targets []string, n int, pts []points.Point) error {
	n0 := r.n
	level := replication.ConsistencyFrom(ctx)
	if level == replication.ConsistencyDefault {
		level = n0.defaultConsistency
	}
	need := level.Acks(n)
	body, err := peerrpc.EncodeWrite(peerrpc.WriteLive, bucketID, pts)
	if err != nil {
		return err
	}
	// Replica writes outlive a request that has enough acknowledgements,
	// so they do not end with it.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n0.cfg.Replication.ReplicaTimeout)
	results := make(chan error, len(targets))
	localDone := make(chan error, 1) // this node's own write, when it is a target
	for _, id := range targets {
		go func() {
			if id == n0.cfg.NodeID {
				if chaosDrops(pts) {
					results <- nil
					localDone <- nil
					return
				}
				err := n0.writeLive(wctx, bucketID, pts)
				if err != nil {
					n0.repl.MayHaveMissedWrites("a local write failed: " + err.Error())
				}
				results <- err
				localDone <- err
				return
			}
			err := n0.rpc.Write(wctx, id, body)
			if err != nil {
				n0.hint(id, bucketID, pts, err)
			}
			results <- err
		}()
	}
	acks, answered := 0, 0
	var errs []error
wait:
	for acks < need && len(targets)-len(errs) >= need {
		select {
		case err := <-results:
			answered++
			if err != nil {
				errs = append(errs, err)
			} else {
				acks++
			}
		case <-ctx.Done():
			errs = append(errs, ctx.Err())
			break wait
		}
	}
	// Met: give the other replicas a moment to store the batch too, so
	// that on a healthy cluster a read through any replica right after the
	// answer sees it; one slower than AckGrace is left behind (and hinted
	// if it fails). A write at one asked for speed and does not wait.
	if acks >= need && answered < len(targets) && level != replication.ConsistencyOne && n0.cfg.Replication.AckGrace > 0 {
		grace := time.NewTimer(n0.cfg.Replication.AckGrace)
	linger:
		for answered < len(targets) {
			select {
			case err := <-results:
				answered++
				if err == nil {
					acks++
				}
			case <-grace.C:
				break linger
			case <-ctx.Done():
				break linger
			}
		}
		grace.Stop()
	}
	// The stragglers finish (or time out) on their own.
	go func() {
		for ; answered < len(targets); answered++ {
			<-results
		}
		cancel()
	}()
	// This node's copy carries the batch into its alert evaluation queue
	// when it evaluates the bucket's rules. If that write failed (a full
	// disk), the others' acknowledgements must not acknowledge the batch:
	// repair copies the points later but evaluates nothing, so its alerts
	// would be lost (found by the chaos suite: alert × disk, seed 1916). A
	// remote evaluator that fails is hinted, and the hint is evaluated.
	if acks >= need && slices.Contains(targets, n0.cfg.NodeID) && n0.isEvaluator(bucketID) {
		select {
		case err := <-localDone:
			if err != nil {
				n0.metrics.writesUnavailable.Add(1)
				return fmt.Errorf("%w: this node evaluates the alert rules of bucket %s and could not store the batch: %w",
					replication.ErrUnavailable, bucketID, err)
			}
		case <-ctx.Done():
			n0.metrics.writesUnavailable.Add(1)
			return fmt.Errorf("%w: %w", replication.ErrUnavailable, ctx.Err())
		}
	}
	if acks >= need {
		n0.metrics.writesAcked.Add(1)
		return nil
	}
	n0.metrics.writesUnavailable.Add(1)
	return fmt.Errorf("%w: consistency %s needs %d of %d replicas of bucket %s: %w",
		replication.ErrUnavailable, level, need, n, bucketID, errors.Join(errs...))
}

// serveWrite is the handler of peerrpc.PathWrite: it stores a batch
// another node sent to this replica.
func (n *Node) serveWrite(ctx context.Context, body []byte) peerrpc.Answer {
	w, err := peerrpc.DecodeWrite(body)
	if err != nil {
		return peerrpc.Answer{Status: http.StatusBadRequest, Body: []byte(err.Error())}
	}
	if w.Kind == peerrpc.WriteHistory {
		if w.Points = n.withoutDeletedSources(w.Points); len(w.Points) == 0 {
			return peerrpc.Answer{Status: http.StatusOK, Body: []byte("{}")}
		}
		if err := n.pts.Write(ctx, w.BucketID, w.Points); err != nil {
			return peerrpc.Answer{Status: http.StatusServiceUnavailable, Body: []byte(err.Error())}
		}
		return peerrpc.Answer{Status: http.StatusOK, Body: []byte("{}")}
	}
	if chaosDrops(w.Points) {
		return peerrpc.Answer{Status: http.StatusOK, Body: []byte("{}")}
	}
	if err := n.writeLive(ctx, w.BucketID, w.Points); err != nil {
		n.repl.MayHaveMissedWrites("a replicated write failed: " + err.Error())
		return peerrpc.Answer{Status: http.StatusServiceUnavailable, Body: []byte(err.Error())}
	}
	n.metrics.replicaWrites.Add(1)
	return peerrpc.Answer{Status: http.StatusOK, Body: []byte("{}")}
}

// chaosDrops reports whether the lose-writes bug drops this batch: every
// tenth by its first point's time, the same batch on every replica.
func chaosDrops(pts []points.Point) bool {
	return chaosBug == "lose-writes" && len(pts) > 0 && (pts[0].TS/int64(time.Millisecond))%10 == 0
}

// hint queues a write that missed target. A full queue drops it; repair
// copies it later.
func (n *Node) hint(target, bucketID string, pts []points.Point, cause error) {
	if n.hints == nil {
		return
	}
	if err := n.hints.Add(target, bucketID, pts); err != nil {
		n.log.Warn("dropped a hint: repair will copy the points", "target", target, "bucket", bucketID, "points", len(pts), "err", err)
		return
	}
	n.log.Debug("queued a hint", "target", target, "bucket", bucketID, "points", len(pts), "cause", cause)
}

// replayHints delivers queued hints to targets that are alive again, oldest
// first, until Close. Hints older than HintMaxAge and queues of nodes that
// left the cluster are dropped.
func (n *Node) replayHints() {
	defer n.bg.Done()
	t := time.NewTicker(n.cfg.Replication.HintReplayInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stopBG:
			return
		case <-t.C:
		}
		servers := n.serverIDs()
		for _, target := range n.hints.Pending() {
			if servers != nil && !slices.Contains(servers, target) {
				if err := n.hints.Drop(target); err != nil {
					n.log.Warn("cannot drop the hints of a removed node", "target", target, "err", err)
				}
				continue
			}
			n.replayTo(target)
		}
	}
}

// replayTo sends target its hints in order and stops at the first failure.
func (n *Node) replayTo(target string) {
	for {
		select {
		case <-n.stopBG:
			return
		default:
		}
		batch, err := n.hints.Next(target, 32)
		if err != nil || len(batch) == 0 {
			return
		}
		var expired, sent []replication.Hint
		for _, h := range batch {
			if n.cfg.Now().Sub(h.At) > n.cfg.Replication.HintMaxAge {
				expired = append(expired, h)
				continue
			}
			if n.peerHTTP(target) == "" {
				break
			}
			body, err := peerrpc.EncodeWrite(peerrpc.WriteLive, h.Bucket, h.Points)
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), n.cfg.Replication.ReplicaTimeout)
				err = n.rpc.Write(ctx, target, body)
				cancel()
			}
			if err != nil {
				n.log.Debug("hint replay failed; will retry", "target", target, "err", err)
				break
			}
			sent = append(sent, h)
		}
		if err := n.hints.Remove(target, expired, false); err != nil {
			n.log.Warn("cannot remove expired hints", "err", err)
		}
		if err := n.hints.Remove(target, sent, true); err != nil {
			n.log.Warn("cannot remove replayed hints", "err", err)
		}
		if len(expired)+len(sent) < len(batch) {
			return
		}
	}
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

// replicationMetrics counts what the replicated write and read paths did
// since the node started.
type replicationMetrics struct {
	writesAcked, writesUnavailable, replicaWrites atomic.Int64
	readFailovers, readHedges, partialReads       atomic.Int64
}

// ReplicationCounters is replicationMetrics as cluster status shows it.
type ReplicationCounters struct {
	WritesAcked       int64 `json:"writesAcknowledged"`
	WritesUnavailable int64 `json:"writesUnavailable"`
	ReplicaWrites     int64 `json:"replicaWritesServed"`
	ReadFailovers     int64 `json:"readFailovers"`
	ReadHedges        int64 `json:"readHedges"`
	PartialReads      int64 `json:"partialReads"`
}

func (m *replicationMetrics) snapshot() ReplicationCounters {
	return ReplicationCounters{
		WritesAcked: m.writesAcked.Load(), WritesUnavailable: m.writesUnavailable.Load(), ReplicaWrites: m.replicaWrites.Load(),
		ReadFailovers: m.readFailovers.Load(), ReadHedges: m.readHedges.Load(), PartialReads: m.partialReads.Load(),
	}
}

// isEvaluator reports whether this node evaluates the bucket's alert rules:
// the first replica alive on gossip does; with no placement (one node, or
// a bucket placed before placement existed) the leader does.
func (n *Node) isEvaluator(bucketID string) bool {
	if n.members == nil {
		return true
	}
	reps := n.state.BucketReplicas(bucketID)
	if len(reps) == 0 {
		return n.raft.IsLeader()
	}
	for _, id := range reps {
		if id == n.cfg.NodeID {
			return true
		}
		if n.peerHTTP(id) != "" {
			return false
		}
	}
	return false
}
