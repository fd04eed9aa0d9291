package alerting

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dakkio/dakkio/store/points"
)

// Alert rules are evaluated after the write, not before its answer: a
// client's write stores its points and, in the same commit, queues a mark
// of the ones a rule of this node looks at (points/evalqueue.go; the store
// hands them back from memory, or reads them back after a restart); the
// answer waits for that commit only. The Queue drains it in commit order,
// evaluates, and deletes a record once its triggers are in the Raft log,
// so a record left by a crash is evaluated after the restart. A record
// evaluated twice (a crash between the trigger and the delete) fires
// nothing twice: the log records an event of a rule and a point once
// (store.ApplyTriggerAlert, by the event's cause), and the rule's cooldown
// holds across it.

// Defaults and bounds of the evaluation queue.
const (
	// DefaultQueueMaxBytes bounds the queue (QueueConfig.MaxBytes).
	DefaultQueueMaxBytes = 64 << 20
	// evalBatch is how many queued writes one read of the queue takes.
	evalBatch = 64
	// evalTimeout bounds the evaluation of one queued write.
	evalTimeout = 10 * time.Second
	// evalRetryMax is the longest pause between attempts at a write whose
	// evaluation failed (no Raft leader, replicas unreachable).
	evalRetryMax = 30 * time.Second
)

// LocalPoints is this node's points store with its evaluation queue
// (*points.DB).
type LocalPoints interface {
	Write(ctx context.Context, bucketID string, pts []points.Point) error
	// WriteEval stores pts and queues eval in the same commit, or returns
	// points.ErrEvalQueueFull past maxBytes.
	WriteEval(ctx context.Context, bucketID string, pts, eval []points.Point, maxBytes int64) error
	EvalQueue(after uint64, max int) ([]points.EvalRecord, error)
	EvalReady() <-chan struct{}
	EvalDone(seqs ...uint64) error
	EvalQueueStats() (n int, size int64, oldest time.Time)
}

// QueueConfig configures a Queue. NodeID, Engine and Local are required.
type QueueConfig struct {
	// NodeID names this node in the causes of its data.received events.
	NodeID string
	// Engine evaluates the queued writes and publishes their events.
	Engine *Engine
	Local  LocalPoints
	// MaxBytes bounds the queue; past it, writes are stored and
	// acknowledged without being evaluated. Default DefaultQueueMaxBytes;
	// negative: no bound.
	MaxBytes int64
	// Hold never evaluates (the chaos bug hold-alerts).
	Hold bool
}

// QueueCounters is what the Queue did since it started.
type QueueCounters struct {
	Dropped   int64 // writes stored without queueing: queue full
	Evaluated int64 // queued writes evaluated
	Retries   int64 // evaluations that failed and wait to be retried
}

// Queue stores a node's live writes with their mark for evaluation and
// evaluates them in the background.
type Queue struct {
	cfg QueueConfig
	e   *Engine
	log *slog.Logger

	dropped, evaluated, retries atomic.Int64

	holdMu sync.Mutex
	hold   chan struct{} // set by Hold: waited on before each evaluation

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the evaluation loop
}

// NewQueue returns a Queue; it evaluates only once started.
func NewQueue(cfg QueueConfig) *Queue {
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultQueueMaxBytes
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Queue{cfg: cfg, e: cfg.Engine, log: cfg.Engine.log, ctx: ctx, cancel: cancel}
}

// Start evaluates the queue in the background until Close.
func (q *Queue) Start() { q.wg.Go(q.run) }

// Close stops the evaluation and waits for it; what is left stays queued.
func (q *Queue) Close() {
	q.cancel()
	q.wg.Wait()
}

// WriteLive stores a client's points (or a hint of them) in the local store
// and queues those alert rules look at here for evaluation. A full queue
// does not refuse the write: the points are stored, not evaluated, and
// counted in QueueCounters.Dropped.
func (q *Queue) WriteLive(ctx context.Context, bucketID string, pts []points.Point) error {
	if pts = q.e.withoutDeletedSources(pts); len(pts) == 0 {
		return nil
	}
	eval := q.e.NoteArrivals(bucketID, pts)
	if q.e.wantsDataReceived(bucketID) {
		eval = pts // the whole write, for its data.received event
	}
	err := q.cfg.Local.WriteEval(ctx, bucketID, pts, eval, q.cfg.MaxBytes)
	if errors.Is(err, points.ErrEvalQueueFull) {
		if q.dropped.Add(1)%1000 == 1 {
			q.log.Warn("alert evaluation queue full: points stored without evaluating alert rules", "bucket", bucketID, "maxBytes", q.cfg.MaxBytes)
		}
		return q.cfg.Local.Write(ctx, bucketID, pts)
	}
	return err
}

// WriteHistory stores restored or repaired points, not evaluated.
func (q *Queue) WriteHistory(ctx context.Context, bucketID string, pts []points.Point) error {
	return q.cfg.Local.Write(ctx, bucketID, q.e.withoutDeletedSources(pts))
}

// run drains the evaluation queue until Close: oldest first, one queued
// write at a time, retrying a failed one (with backoff) before any later
// one, so that a rule sees its points in order.
func (q *Queue) run() {
	ctx := q.ctx
	retry := time.Duration(0)
	after := uint64(0) // the last record done: seeking past it skips the deleted ones
	for ctx.Err() == nil {
		if q.cfg.Hold {
			<-ctx.Done()
			return
		}
		recs, err := q.cfg.Local.EvalQueue(after, evalBatch)
		if err != nil {
			q.log.Error("cannot read the alert evaluation queue", "err", err)
			retry = pause(ctx, retry)
			continue
		}
		if len(recs) == 0 {
			select {
			case <-ctx.Done():
			case <-q.cfg.Local.EvalReady():
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
			if q.waitHold(ctx) != nil {
				break
			}
			if rec.Err != nil {
				q.log.Error("dropped an unreadable alert evaluation record", "err", rec.Err)
				done = append(done, rec.Seq)
				continue
			}
			ectx, ecancel := context.WithTimeout(ctx, evalTimeout)
			err := q.e.Evaluate(ectx, rec.Bucket, rec.Points)
			if err == nil {
				err = q.e.publishDataReceived(ectx, q.cfg.NodeID, rec)
			}
			ecancel()
			if err != nil {
				if ctx.Err() == nil {
					q.retries.Add(1)
					q.log.Warn("alert evaluation failed; will retry", "bucket", rec.Bucket, "queued", rec.At, "err", err)
					failed = true
				}
				break
			}
			done = append(done, rec.Seq)
		}
		if err := q.cfg.Local.EvalDone(done...); err != nil {
			q.log.Error("cannot advance the alert evaluation queue", "err", err)
			failed = true
		} else if len(done) > 0 {
			after = done[len(done)-1]
			q.evaluated.Add(int64(len(done)))
		}
		if failed {
			retry = pause(ctx, retry)
		} else {
			retry = 0
		}
	}
}

// pause waits before a retry, doubling the last pause up to evalRetryMax,
// and returns the pause it waited.
func pause(ctx context.Context, last time.Duration) time.Duration {
	next := min(max(2*last, 100*time.Millisecond), evalRetryMax)
	select {
	case <-ctx.Done():
	case <-time.After(next):
	}
	return next
}

// Lag returns how many written batches wait for evaluation, their bytes,
// and how long the oldest has waited.
func (q *Queue) Lag() (queued int, bytes int64, oldest time.Duration) {
	n, b, at := q.cfg.Local.EvalQueueStats()
	if n > 0 {
		oldest = max(q.e.cfg.Now().Sub(at), 0)
	}
	return n, b, oldest
}

// Counters returns what the Queue did since it started.
func (q *Queue) Counters() QueueCounters {
	return QueueCounters{Dropped: q.dropped.Load(), Evaluated: q.evaluated.Load(), Retries: q.retries.Load()}
}

// Hold stops evaluation until release; writes are still stored and
// acknowledged. For tests.
func (q *Queue) Hold() (release func()) {
	h := make(chan struct{})
	q.holdMu.Lock()
	q.hold = h
	q.holdMu.Unlock()
	return func() {
		q.holdMu.Lock()
		if q.hold == h {
			q.hold = nil
			close(h)
		}
		q.holdMu.Unlock()
	}
}

func (q *Queue) waitHold(ctx context.Context) error {
	q.holdMu.Lock()
	h := q.hold
	q.holdMu.Unlock()
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
