package replication

import (
	"log/slog"
	"sync"
)

// Replicator replicates a node's points: anti-entropy repair and whether
// this node's copy of a bucket is in sync. It owns its goroutines, which
// run from Start to Stop.
type Replicator struct {
	cfg    Config
	d      Deps
	log    *slog.Logger
	repair *repairer

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// New returns a Replicator; cfg has its defaults set.
func New(cfg Config, d Deps) *Replicator {
	d.setDefaults()
	r := &Replicator{cfg: cfg, d: d, log: d.Logger, stop: make(chan struct{})}
	r.repair = newRepairer(r)
	return r
}

// Start starts repair. Buckets that exist now are behind until repaired;
// those created from here on are born in sync.
func (r *Replicator) Start() {
	r.repair.noteNewBuckets()
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
