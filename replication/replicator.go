package replication

import (
	"log/slog"
	"sync"
)

// Replicator serves the points API from a bucket's replicas: a write goes
// to every replica in parallel and is acknowledged at its consistency, a
// replica it missed gets a hint (write.go); a read is answered by this
// node when it is a replica in sync, else by the first live replica in
// sync (read.go). Anti-entropy repair (repair.go) tracks whether this
// node's copy of a bucket is in sync. A bucket without a placement is
// kept by each node locally. Its goroutines run from Start to Stop.
type Replicator struct {
	cfg                Config
	d                  Deps
	log                *slog.Logger
	defaultConsistency Consistency
	repair             *repairer
	metrics            replicationMetrics

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// New returns a Replicator; cfg has its defaults set.
func New(cfg Config, d Deps) *Replicator {
	d.setDefaults()
	r := &Replicator{cfg: cfg, d: d, log: d.Logger, stop: make(chan struct{})}
	r.defaultConsistency, _ = ParseConsistency(cfg.WriteConsistency)
	r.repair = newRepairer(r)
	return r
}

// Start starts hint replay and repair. Buckets that exist now are behind
// until repaired; those created from here on are born in sync.
func (r *Replicator) Start() {
	r.repair.noteNewBuckets()
	if r.d.Hints != nil {
		r.wg.Add(1)
		go r.replayHints()
	}
	r.wg.Add(2)
	go r.repair.watch()
	go r.repair.run()
}

// Stop stops the goroutines and waits for them. Safe to call more than
// once, and without Start.
func (r *Replicator) Stop() {
	r.stopOnce.Do(func() { close(r.stop) })
	r.wg.Wait()
}

// InSync reports whether this node's copy of the bucket holds every write
// acknowledged at quorum, as far as it can tell.
func (r *Replicator) InSync(bucketID string) bool { return r.repair.inSync(bucketID) }

// MayHaveMissedWrites marks every bucket of this node as possibly behind.
func (r *Replicator) MayHaveMissedWrites(why string) { r.repair.mayHaveMissedWrites(why) }

// RepairStatus returns anti-entropy's progress and how many of this
// node's buckets are behind.
func (r *Replicator) RepairStatus() RepairStatus { return r.repair.Status() }

// Counters returns what the replicated write and read paths did since
// the node started.
func (r *Replicator) Counters() Counters { return r.metrics.snapshot() }
