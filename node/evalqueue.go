package node

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dakkio/dakkio/store/points"
)

// Alert rules are evaluated after the write, not before its answer: a
// client's write stores its points and, in the same commit, queues a mark
// of the ones a rule of this node looks at (points/evalqueue.go; the store
// hands them back from memory, or reads them back after a restart); the
// answer waits for that commit only. evaluateQueued drains the queue in commit
// order, evaluates, and deletes a record once its triggers are in the Raft
// log, so a record left by a crash is evaluated after the restart. A
// record evaluated twice (a crash between the trigger and the delete)
// fires nothing twice: the log records an event of a rule and a point once
// (store.ApplyTriggerAlert, by the event's cause), and the rule's cooldown
// holds across it.

// Defaults of the evaluation queue.
const (
	// DefaultAlertQueueMaxBytes bounds the queue (Config.AlertQueueMaxBytes).
	DefaultAlertQueueMaxBytes = 64 << 20
	// evalBatch is how many queued writes one read of the queue takes.
	evalBatch = 64
	// evalTimeout bounds the evaluation of one queued write.
	evalTimeout = 10 * time.Second
	// evalRetryMax is the longest pause between attempts at a write whose
	// evaluation failed (no Raft leader, replicas unreachable).
	evalRetryMax = 30 * time.Second
)

// evalMetrics counts what the evaluation queue did since the node started.
type evalMetrics struct {
	dropped   atomic.Int64 // writes stored without queueing: queue full
	evaluated atomic.Int64 // queued writes evaluated
	retries   atomic.Int64 // evaluations that failed and wait to be retried
}

// evalGate, when set (by a test), is waited on before each evaluation.
type evalGate struct {
	mu   sync.Mutex
	hold chan struct{}
}

func (g *evalGate) wait(ctx context.Context) error {
	g.mu.Lock()
	h := g.hold
	g.mu.Unlock()
	if h == nil {
		return nil
	}
	select {
	case <-h:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writeLive stores a client's points (or a hint of them) in the local store
// and queues those alert rules look at here for evaluation. A full queue
// does not refuse the write: the points are stored, not evaluated, and
// counted in dakkio_alert_eval_dropped_total.
func (n *Node) writeLive(ctx context.Context, bucketID string, pts []points.Point) error {
	if pts = n.withoutDeletedSources(pts); len(pts) == 0 {
		return nil
	}
	eval := n.alerts.NoteArrivals(bucketID, pts)
	if n.wantsDataReceived(bucketID) {
		eval = pts // the whole write, for its data.received event
	}
	err := n.pts.WriteEval(ctx, bucketID, pts, eval, n.cfg.AlertQueueMaxBytes)
	if errors.Is(err, points.ErrEvalQueueFull) {
		if n.evalStats.dropped.Add(1)%1000 == 1 {
			n.log.Warn("alert evaluation queue full: points stored without evaluating alert rules", "bucket", bucketID, "maxBytes", n.cfg.AlertQueueMaxBytes)
		}
		return n.pts.Write(ctx, bucketID, pts)
	}
	return err
}

// evaluateQueued drains the evaluation queue until Close: oldest first, one
// queued write at a time, retrying a failed one (with backoff) before any
// later one, so that a rule sees its points in order.
func (n *Node) evaluateQueued() {
	defer n.bg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-n.stopBG
		cancel()
	}()
	retry := time.Duration(0)
	after := uint64(0) // the last record done: seeking past it skips the deleted ones
	for ctx.Err() == nil {
		if chaosBug == "hold-alerts" {
			<-ctx.Done()
			return
		}
		recs, err := n.pts.EvalQueue(after, evalBatch)
		if err != nil {
			n.log.Error("cannot read the alert evaluation queue", "err", err)
			retry = n.evalPause(ctx, retry)
			continue
		}
		if len(recs) == 0 {
			select {
			case <-ctx.Done():
			case <-n.pts.EvalReady():
			case <-time.After(time.Second): // a missed signal costs a second at most
			}
			continue
		}
		// Done records are deleted together, one Badger commit per read of
		// the queue (one fsync with --sync-writes): a crash before that
		// commit only evaluates them again, which fires nothing twice.
		failed := false
		var done []uint64
		for _, rec := range recs {
			if n.evalGate.wait(ctx) != nil {
				break
			}
			if rec.Err != nil {
				n.log.Error("dropped an unreadable alert evaluation record", "err", rec.Err)
				done = append(done, rec.Seq)
				continue
			}
			ectx, ecancel := context.WithTimeout(ctx, evalTimeout)
			err := n.alerts.Evaluate(ectx, rec.Bucket, rec.Points)
			if err == nil {
				err = n.publishDataReceived(ectx, rec)
			}
			ecancel()
			if err != nil {
				if ctx.Err() == nil {
					n.evalStats.retries.Add(1)
					n.log.Warn("alert evaluation failed; will retry", "bucket", rec.Bucket, "queued", rec.At, "err", err)
					failed = true
				}
				break
			}
			done = append(done, rec.Seq)
		}
		if err := n.pts.EvalDone(done...); err != nil {
			n.log.Error("cannot advance the alert evaluation queue", "err", err)
			failed = true
		} else if len(done) > 0 {
			after = done[len(done)-1]
			n.evalStats.evaluated.Add(int64(len(done)))
		}
		if failed {
			retry = n.evalPause(ctx, retry)
		} else {
			retry = 0
		}
	}
}

// evalPause waits before a retry, doubling the last pause up to
// evalRetryMax, and returns the pause it waited.
func (n *Node) evalPause(ctx context.Context, last time.Duration) time.Duration {
	next := min(max(2*last, 100*time.Millisecond), evalRetryMax)
	select {
	case <-ctx.Done():
	case <-time.After(next):
	}
	return next
}

// AlertEvalLag returns how many written batches wait for alert evaluation
// on this node, their bytes, and how long the oldest has waited.
func (n *Node) AlertEvalLag() (queued int, bytes int64, oldest time.Duration) {
	q, b, at := n.pts.EvalQueueStats()
	if q > 0 {
		oldest = max(n.cfg.Now().Sub(at), 0)
	}
	return q, b, oldest
}
