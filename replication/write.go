package replication

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/dakkio/dakkio/internal/peerrpc"
	"github.com/dakkio/dakkio/store/points"
)

// Write stores pts on the bucket's replicas (and the pending ones catching
// up), acknowledged at level (ConsistencyDefault: Config.WriteConsistency).
func (r *Replicator) Write(ctx context.Context, bucketID string, level Consistency, pts []points.Point) error {
	p := r.d.Cluster.Placement(bucketID)
	if len(p.Replicas) == 0 || !r.d.Cluster.Clustered() {
		if r.chaosDrops(pts) {
			return nil
		}
		return r.d.WriteLive(ctx, bucketID, pts)
	}
	targets := slices.Concat(p.Replicas, p.Pending)
	return r.replicate(ctx, bucketID, level, targets, len(targets)-len(p.Leaving), pts)
}

// Announce tells this node's store that a client's write to the bucket is
// on its way (points.DB.Announce), unless this node keeps no copy of it.
func (r *Replicator) Announce(bucketID string) (withdraw func()) {
	if r.d.Cluster.Clustered() {
		p := r.d.Cluster.Placement(bucketID)
		if len(p.Replicas) > 0 && !p.Stores(r.d.Self) {
			return func() {}
		}
	}
	return r.d.Local.Announce()
}

// replicate writes pts to every replica of the bucket in parallel and
// returns once level is met, or with a wrapped
// ErrUnavailable once it cannot be. Replicas the write did not
// reach get a hint, also when the write as a whole failed: the client will
// retry, and the retry changes nothing where the points already are.
func (r *Replicator) replicate(ctx context.Context, bucketID string, level Consistency, targets []string, n int, pts []points.Point) error {
	if level == ConsistencyDefault {
		level = r.defaultConsistency
	}
	need := level.Acks(n)
	body, err := peerrpc.EncodeWrite(peerrpc.WriteLive, bucketID, pts)
	if err != nil {
		return err
	}
	// Replica writes outlive a request that has enough acknowledgements,
	// so they do not end with it.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.ReplicaTimeout)
	results := make(chan error, len(targets))
	localDone := make(chan error, 1) // this node's own write, when it is a target
	for _, id := range targets {
		go func() {
			if id == r.d.Self {
				if r.chaosDrops(pts) {
					results <- nil
					localDone <- nil
					return
				}
				err := r.d.WriteLive(wctx, bucketID, pts)
				if err != nil {
					r.repair.mayHaveMissedWrites("a local write failed: " + err.Error())
				}
				results <- err
				localDone <- err
				return
			}
			err := r.d.Peers.Write(wctx, id, body)
			if err != nil {
				r.hint(id, bucketID, pts, err)
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
	if acks >= need && answered < len(targets) && level != ConsistencyOne && r.cfg.AckGrace > 0 {
		grace := time.NewTimer(r.cfg.AckGrace)
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
	if acks >= need && slices.Contains(targets, r.d.Self) && r.d.IsEvaluator(bucketID) {
		select {
		case err := <-localDone:
			if err != nil {
				r.metrics.writesUnavailable.Add(1)
				return fmt.Errorf("%w: this node evaluates the alert rules of bucket %s and could not store the batch: %w",
					ErrUnavailable, bucketID, err)
			}
		case <-ctx.Done():
			r.metrics.writesUnavailable.Add(1)
			return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
		}
	}
	if acks >= need {
		r.metrics.writesAcked.Add(1)
		return nil
	}
	r.metrics.writesUnavailable.Add(1)
	return fmt.Errorf("%w: consistency %s needs %d of %d replicas of bucket %s: %w",
		ErrUnavailable, level, need, n, bucketID, errors.Join(errs...))
}

// ServeWrite is the handler of peerrpc.PathWrite: it stores a batch
// another node sent to this replica.
func (r *Replicator) ServeWrite(ctx context.Context, body []byte) peerrpc.Answer {
	w, err := peerrpc.DecodeWrite(body)
	if err != nil {
		return peerrpc.Answer{Status: http.StatusBadRequest, Body: []byte(err.Error())}
	}
	if w.Kind == peerrpc.WriteHistory {
		if err := r.d.WriteHistory(ctx, w.BucketID, w.Points); err != nil {
			return peerrpc.Answer{Status: http.StatusServiceUnavailable, Body: []byte(err.Error())}
		}
		return peerrpc.Answer{Status: http.StatusOK, Body: []byte("{}")}
	}
	if r.chaosDrops(w.Points) {
		return peerrpc.Answer{Status: http.StatusOK, Body: []byte("{}")}
	}
	if err := r.d.WriteLive(ctx, w.BucketID, w.Points); err != nil {
		r.repair.mayHaveMissedWrites("a replicated write failed: " + err.Error())
		return peerrpc.Answer{Status: http.StatusServiceUnavailable, Body: []byte(err.Error())}
	}
	r.metrics.replicaWrites.Add(1)
	return peerrpc.Answer{Status: http.StatusOK, Body: []byte("{}")}
}

// Restore stores restored points on every replica of the bucket (and
// the pending ones). Unlike a client's write it evaluates no alert rule
// (the points are history) and leaves no hint: every replica must take the
// batch, or the call fails with a wrapped ErrUnavailable and may be
// retried (points are identified by source and time).
func (r *Replicator) Restore(ctx context.Context, bucketID string, pts []points.Point) error {
	p := r.d.Cluster.Placement(bucketID)
	if len(p.Replicas) == 0 || !r.d.Cluster.Clustered() {
		return r.d.Local.Write(ctx, bucketID, pts)
	}
	body, err := peerrpc.EncodeWrite(peerrpc.WriteHistory, bucketID, pts)
	if err != nil {
		return err
	}
	targets := slices.Concat(p.Replicas, p.Pending)
	errs := make(chan error, len(targets))
	for _, id := range targets {
		go func() {
			if id == r.d.Self {
				errs <- r.d.Local.Write(ctx, bucketID, pts)
				return
			}
			errs <- r.d.Peers.Write(ctx, id, body)
		}()
	}
	var all []error
	for range targets {
		if err := <-errs; err != nil {
			all = append(all, err)
		}
	}
	if len(all) > 0 {
		return fmt.Errorf("%w: restoring points of bucket %s needs every replica: %w", ErrUnavailable, bucketID, errors.Join(all...))
	}
	return nil
}

// chaosDrops reports whether the lose-writes bug drops this batch: every
// tenth by its first point's time, the same batch on every replica.
func (r *Replicator) chaosDrops(pts []points.Point) bool {
	return r.d.ChaosBug == "lose-writes" && len(pts) > 0 && (pts[0].TS/int64(time.Millisecond))%10 == 0
}

// hint queues a write that missed target. A full queue drops it; repair
// copies it later.
func (r *Replicator) hint(target, bucketID string, pts []points.Point, cause error) {
	if r.d.Hints == nil {
		return
	}
	if err := r.d.Hints.Add(target, bucketID, pts); err != nil {
		r.log.Warn("dropped a hint: repair will copy the points", "target", target, "bucket", bucketID, "points", len(pts), "err", err)
		return
	}
	r.log.Debug("queued a hint", "target", target, "bucket", bucketID, "points", len(pts), "cause", cause)
}

// replayHints delivers queued hints to targets that are alive again, oldest
// first, until Stop. Hints older than HintMaxAge and queues of nodes that
// left the cluster are dropped.
func (r *Replicator) replayHints() {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.HintReplayInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		servers := r.d.Cluster.Servers()
		for _, target := range r.d.Hints.Pending() {
			if servers != nil && !slices.Contains(servers, target) {
				if err := r.d.Hints.Drop(target); err != nil {
					r.log.Warn("cannot drop the hints of a removed node", "target", target, "err", err)
				}
				continue
			}
			r.replayTo(target)
		}
	}
}

// replayTo sends target its hints in order and stops at the first failure.
func (r *Replicator) replayTo(target string) {
	for {
		select {
		case <-r.stop:
			return
		default:
		}
		batch, err := r.d.Hints.Next(target, 32)
		if err != nil || len(batch) == 0 {
			return
		}
		var expired, sent []Hint
		for _, h := range batch {
			if r.d.Now().Sub(h.At) > r.cfg.HintMaxAge {
				expired = append(expired, h)
				continue
			}
			if !r.d.Cluster.Alive(target) {
				break
			}
			body, err := peerrpc.EncodeWrite(peerrpc.WriteLive, h.Bucket, h.Points)
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), r.cfg.ReplicaTimeout)
				err = r.d.Peers.Write(ctx, target, body)
				cancel()
			}
			if err != nil {
				r.log.Debug("hint replay failed; will retry", "target", target, "err", err)
				break
			}
			sent = append(sent, h)
		}
		if err := r.d.Hints.Remove(target, expired, false); err != nil {
			r.log.Warn("cannot remove expired hints", "err", err)
		}
		if err := r.d.Hints.Remove(target, sent, true); err != nil {
			r.log.Warn("cannot remove replayed hints", "err", err)
		}
		if len(expired)+len(sent) < len(batch) {
			return
		}
	}
}

// replicationMetrics counts what the replicated write and read paths did
// since the node started.
type replicationMetrics struct {
	writesAcked, writesUnavailable, replicaWrites atomic.Int64
	readFailovers, readHedges, partialReads       atomic.Int64
}

// Counters is replicationMetrics as cluster status shows it.
type Counters struct {
	WritesAcked       int64 `json:"writesAcknowledged"`
	WritesUnavailable int64 `json:"writesUnavailable"`
	ReplicaWrites     int64 `json:"replicaWritesServed"`
	ReadFailovers     int64 `json:"readFailovers"`
	ReadHedges        int64 `json:"readHedges"`
	PartialReads      int64 `json:"partialReads"`
}

func (m *replicationMetrics) snapshot() Counters {
	return Counters{
		WritesAcked: m.writesAcked.Load(), WritesUnavailable: m.writesUnavailable.Load(), ReplicaWrites: m.replicaWrites.Load(),
		ReadFailovers: m.readFailovers.Load(), ReadHedges: m.readHedges.Load(), PartialReads: m.partialReads.Load(),
	}
}
