package replication

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// repairer runs anti-entropy: each pass, for every bucket this node holds,
// it compares per-source, per-hour digests with each live co-replica and
// copies the hours where the other has points this one lacks. Every node
// pulls, so two replicas converge after a pass each, whoever coordinated
// the writes and whatever became of that coordinator's hints.
//
// It also tracks whether this node's copy of a bucket can be trusted to
// hold every write acknowledged at quorum: not after a restart, a pause, a
// loss of contact with another node or a failed local write (any of which
// may have made it miss writes) until a later pass has compared it with
// enough co-replicas (N - quorum of them: every quorum write is on one).
type repairer struct {
	r *Replicator

	mu      sync.Mutex
	epoch   uint64                       // bumped by every event that may lose writes
	lostAt  uint64                       // epoch of the latest such event
	synced  map[string]map[string]uint64 // bucket -> peer -> epoch at the start of the pass that compared them
	born    map[string]uint64            // bucket -> epoch before this node first saw it (0: it existed at start)
	seenAt  uint64                       // epoch at the previous scan for new buckets
	alive   map[string]bool              // the other servers seen alive
	missing map[string]bool              // alive before, missing from the last scan
	// movedAway: buckets this node holds points of but no longer hosts,
	// and when a pass first saw each so.
	movedAway map[string]time.Time
	status    RepairStatus
}

// RepairStatus is anti-entropy's progress, as cluster status shows it.
type RepairStatus struct {
	Passes         int64      `json:"passes"`
	Running        bool       `json:"running"`
	PassStartedAt  *time.Time `json:"passStartedAt,omitempty"`
	LastPassEnded  *time.Time `json:"lastPassEndedAt,omitempty"`
	BucketsTotal   int        `json:"bucketsTotal"`
	BucketsDone    int        `json:"bucketsDone"`
	HoursCompared  int64      `json:"hoursCompared"`
	HoursRepaired  int64      `json:"hoursRepaired"`
	PointsRepaired int64      `json:"pointsRepaired"`
	BucketsBehind  int        `json:"bucketsBehind"`
	// MovedAwayDropped counts the copies of buckets moved to other
	// replicas that this node deleted.
	MovedAwayDropped int64  `json:"movedAwayCopiesDropped"`
	LastError        string `json:"lastError,omitempty"`
}

// behindRetry is how soon a node with buckets behind repairs again.
const behindRetry = 2 * time.Second

func newRepairer(r *Replicator) *repairer {
	// Epoch 1 is the start: a node that just started may have missed writes.
	return &repairer{r: r, epoch: 1, lostAt: 1, synced: map[string]map[string]uint64{}, born: map[string]uint64{}, alive: map[string]bool{}, missing: map[string]bool{},
		movedAway: map[string]time.Time{}}
}

// mayHaveMissedWrites marks every bucket of this node as possibly behind.
func (rp *repairer) mayHaveMissedWrites(why string) {
	rp.mu.Lock()
	rp.epoch++
	rp.lostAt = rp.epoch
	rp.mu.Unlock()
	rp.r.log.Info("this node may have missed writes; its reads are marked partial until repair has run", "why", why)
}

// quorumCover is how many co-replicas a node must have compared with to
// hold every write acknowledged at quorum among n replicas.
func quorumCover(n int) int { return n - (n/2 + 1) }

// inSync reports whether this node's copy of the bucket holds every write
// acknowledged at quorum, as far as it can tell.
func (rp *repairer) inSync(bucketID string) bool {
	if _, known := rp.r.d.Cluster.Retention(bucketID); !known {
		// Not applied here yet (a node catching up with the log): its
		// store would answer nothing at all for the bucket.
		return false
	}
	p := rp.r.d.Cluster.Placement(bucketID)
	self := rp.r.d.Self
	if len(p.Replicas) == 0 {
		return true
	}
	if slices.Contains(p.Pending, self) || !slices.Contains(p.Replicas, self) {
		return false
	}
	need := quorumCover(len(p.Replicas) + len(p.Pending) - len(p.Leaving))
	rp.mu.Lock()
	defer rp.mu.Unlock()
	born, seen := rp.born[bucketID]
	if !seen {
		born = rp.seenAt // created since the last scan, which will say so
	}
	if born >= rp.lostAt {
		// Created while this node was up, and it has lost nothing since:
		// every write of the bucket reached it (or waits in a hint).
		return true
	}
	have := 0
	for _, peer := range p.Replicas {
		if peer != self && rp.synced[bucketID][peer] >= rp.lostAt {
			have++
		}
	}
	return have >= need
}

// watch notices what may make this node miss writes: another server
// turning dead, losing the leader for longer than a heartbeat or two, or
// this process being paused (SIGSTOP, a VM freeze). It runs until Stop.
func (rp *repairer) watch() {
	r := rp.r
	defer r.wg.Done()
	const every = 200 * time.Millisecond
	t := time.NewTicker(every)
	defer t.Stop()
	last := time.Now()
	leaderLost := false
	tick := 0
	for {
		select {
		case <-r.stop:
			return
		case now := <-t.C:
			if gap := now.Sub(last); gap > 10*every {
				rp.mayHaveMissedWrites(fmt.Sprintf("paused for %s", gap.Round(time.Millisecond)))
			}
			last = now
		}
		rp.noteNewBuckets()
		alive := map[string]bool{}
		for _, id := range r.d.Cluster.AliveIDs() {
			alive[id] = true
		}
		// A peer counts as lost once it has been missing from two scans
		// in a row: gossip's view blinks while nodes join.
		lost := ""
		rp.mu.Lock()
		for id := range rp.alive {
			if !alive[id] && !rp.missing[id] {
				rp.missing[id] = true
				alive[id] = true // keep it in view for one more scan
			} else if !alive[id] {
				lost = id
				delete(rp.missing, id)
			} else {
				delete(rp.missing, id)
			}
		}
		rp.alive = alive
		rp.mu.Unlock()
		if lost != "" {
			rp.mayHaveMissedWrites("lost contact with " + lost)
		}
		if tick++; tick%5 == 0 {
			if peer := rp.unreachablePeer(); peer != "" {
				rp.mayHaveMissedWrites("cannot reach " + peer + " directly")
			}
		}
		cut := !r.d.Cluster.IsLeader() && time.Since(r.d.Cluster.LastContact()) > time.Second
		if cut && !leaderLost {
			rp.mayHaveMissedWrites("no contact with the leader")
		}
		leaderLost = cut
	}
}

// noteNewBuckets records the buckets of this node it has not seen before,
// as born at the epoch of the previous scan: one created while the node
// was up counts as in sync unless something was lost since (a loss between
// the two scans makes it behind, erring on the safe side). The first scan
// finds the buckets that existed at start, which are behind until repaired.
func (rp *repairer) noteNewBuckets() {
	self := rp.r.d.Self
	placements := rp.r.d.Cluster.Placements()
	rp.mu.Lock()
	defer rp.mu.Unlock()
	for b, p := range placements {
		if _, known := rp.born[b]; !known && p.Stores(self) {
			rp.born[b] = rp.seenAt
		}
	}
	for b := range rp.born {
		if _, ok := placements[b]; !ok {
			delete(rp.born, b)
		}
	}
	rp.seenAt = rp.epoch
}

// unreachablePeer calls every other node that gossip says is alive and
// returns one that did not answer. Gossip reaches a node through others
// too, so under a partial partition (a ring, a bridge) it can call alive a
// node this one cannot reach, whose writes this node then misses.
func (rp *repairer) unreachablePeer() string {
	r := rp.r
	var peers []string
	for _, id := range r.d.Cluster.AliveIDs() {
		if id != r.d.Self {
			peers = append(peers, id)
		}
	}
	failed := make(chan string, len(peers))
	var wg sync.WaitGroup
	for _, id := range peers {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if err := r.d.Peers.Ping(ctx, id); err != nil {
				failed <- id
			}
		})
	}
	wg.Wait()
	close(failed)
	return <-failed
}

// run makes a repair pass every RepairInterval until Stop.
func (rp *repairer) run() {
	r := rp.r
	defer r.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		r.d.BeforePass()
		rp.pass()
		// A node that may miss writes (just started, paused, cut off)
		// repairs again soon rather than answer partial for a whole
		// interval; its peers may not have been alive on the last pass.
		next := r.cfg.RepairInterval
		if rp.Status().BucketsBehind > 0 {
			next = min(next, behindRetry)
		}
		t.Reset(next)
	}
}

// pass compares every bucket this node holds with each live co-replica.
func (rp *repairer) pass() {
	r := rp.r
	self := r.d.Self
	type job struct {
		bucket string
		p      store.PlacementView
	}
	var jobs []job
	for b, p := range r.d.Cluster.Placements() {
		if p.Stores(self) {
			jobs = append(jobs, job{b, p})
		}
	}
	slices.SortFunc(jobs, func(a, b job) int { return cmp.Compare(a.bucket, b.bucket) })
	rp.mu.Lock()
	start := rp.epoch
	now := time.Now().UTC()
	rp.status.Running, rp.status.PassStartedAt = true, &now
	rp.status.BucketsTotal, rp.status.BucketsDone = len(jobs), 0
	rp.mu.Unlock()

	var lastErr error
	for _, j := range jobs {
		compared := 0
		for _, peer := range slices.Concat(j.p.Replicas, j.p.Pending) {
			if peer == self || !r.d.Cluster.Alive(peer) {
				continue
			}
			if err := rp.repairFrom(j.bucket, peer); err != nil {
				lastErr = err
				r.log.Debug("repair from a replica failed", "bucket", j.bucket, "peer", peer, "err", err)
				continue
			}
			rp.mu.Lock()
			if rp.synced[j.bucket] == nil {
				rp.synced[j.bucket] = map[string]uint64{}
			}
			rp.synced[j.bucket][peer] = start
			rp.mu.Unlock()
			if slices.Contains(j.p.Replicas, peer) {
				compared++
			}
			select {
			case <-r.stop:
				return
			default:
			}
		}
		// A pending replica has caught up once it compared with every
		// replica serving reads that is alive, and at least one.
		if slices.Contains(j.p.Pending, self) && compared > 0 && compared == rp.liveReplicas(j.p) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := r.d.CaughtUp(ctx, j.bucket); err != nil {
				lastErr = err
			} else {
				r.log.Info("caught up with a bucket: serving its reads", "bucket", j.bucket)
			}
			cancel()
		}
		rp.mu.Lock()
		rp.status.BucketsDone++
		rp.mu.Unlock()
	}
	rp.dropMovedAway()
	rp.mu.Lock()
	end := time.Now().UTC()
	rp.status.Running, rp.status.LastPassEnded = false, &end
	rp.status.Passes++
	rp.status.LastError = ""
	if lastErr != nil {
		rp.status.LastError = lastErr.Error()
	}
	rp.mu.Unlock()
}

// movedAwayGrace is how long a copy of a bucket this node no longer hosts
// stays before it is deleted, so that a placement that moves back at once
// does not cost a copy.
const movedAwayGrace = 10 * time.Second

// dropMovedAway deletes this node's copies of buckets that moved to other
// replicas (a rebalance, or the node's removal and return): nobody reads
// or repairs from them any more, and they would hold their disk forever.
// A copy goes once two passes, movedAwayGrace apart, saw the bucket placed
// elsewhere, and a read barrier confirmed it still is, so that a node
// behind on the log never deletes a copy it has just been given again.
// Stale writes or hints that reach it later are dropped the same way.
func (rp *repairer) dropMovedAway() {
	r := rp.r
	self := r.d.Self
	hosts := func(b string) bool {
		if _, known := r.d.Cluster.Retention(b); !known {
			return true // deleted (its delete removes the points) or not applied yet
		}
		p := r.d.Cluster.Placement(b)
		return len(p.Replicas) == 0 || p.Stores(self) || slices.Contains(p.Leaving, self)
	}
	now := time.Now()
	away := map[string]bool{}
	for _, b := range r.d.Local.Buckets() {
		if !hosts(b) {
			away[b] = true
		}
	}
	var due []string
	rp.mu.Lock()
	for b := range rp.movedAway {
		if !away[b] {
			delete(rp.movedAway, b)
		}
	}
	for b := range away {
		if first, seen := rp.movedAway[b]; !seen {
			rp.movedAway[b] = now
		} else if now.Sub(first) >= movedAwayGrace {
			due = append(due, b)
		}
	}
	rp.mu.Unlock()
	if len(due) == 0 {
		return
	}
	if err := r.d.ReadBarrier(context.Background()); err != nil {
		r.log.Debug("cannot confirm that buckets moved away; keeping their copies for now", "buckets", len(due), "err", err)
		return
	}
	for _, b := range due {
		if hosts(b) {
			continue
		}
		dropped := r.d.Local.DeleteBucket(b)
		rp.mu.Lock()
		delete(rp.movedAway, b)
		rp.status.MovedAwayDropped++
		rp.mu.Unlock()
		r.log.Info("deleted this node's copy of a bucket that moved to other replicas", "bucket", b, "points", dropped)
	}
}

func (rp *repairer) liveReplicas(p store.PlacementView) int {
	live := 0
	for _, id := range p.Replicas {
		if id != rp.r.d.Self && rp.r.d.Cluster.Alive(id) {
			live++
		}
	}
	return live
}

// repairFrom copies from peer the hours of the bucket where the peer's
// digest differs from this node's.
func (rp *repairer) repairFrom(bucketID, peer string) error {
	r := rp.r
	days, ok := r.d.Cluster.Retention(bucketID)
	if !ok {
		return nil // deleted meanwhile
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rg := points.Range{BucketID: bucketID, Start: r.d.Now().Add(-time.Duration(days) * 24 * time.Hour).UnixNano(), End: math.MaxInt64}
	theirs, err := r.d.Peers.Digests(ctx, peer, rg)
	if err != nil {
		return err
	}
	mine, err := r.d.Local.Digests(ctx, bucketID, rg.Start, rg.End)
	if err != nil {
		return err
	}
	type sourceHour struct {
		source string
		hour   int64
	}
	have := make(map[sourceHour]points.HourDigest, len(mine))
	var compared int64
	for _, d := range mine {
		have[sourceHour{d.Source, d.Hour}] = d
		compared += d.Count
	}
	var repairedHours, repairedPoints int64
	for _, d := range theirs {
		compared += d.Count
		if m, ok := have[sourceHour{d.Source, d.Hour}]; ok && m == d {
			continue
		}
		pts, err := r.d.Peers.HourPoints(ctx, peer, bucketID, d.Source, d.Hour)
		if err != nil {
			return err
		}
		wrote, err := r.d.Local.Merge(ctx, bucketID, pts)
		if err != nil {
			return err
		}
		if wrote > 0 {
			repairedHours++
			repairedPoints += int64(wrote)
		}
	}
	rp.mu.Lock()
	rp.status.HoursCompared += int64(len(theirs))
	rp.status.HoursRepaired += repairedHours
	rp.status.PointsRepaired += repairedPoints
	rp.mu.Unlock()
	if repairedPoints > 0 {
		r.log.Info("repaired a bucket from a replica", "bucket", bucketID, "peer", peer, "hours", repairedHours, "points", repairedPoints)
	}
	// Rate limit: rest in proportion to the points compared.
	rest := time.Duration(float64(compared) / float64(r.cfg.RepairRate) * float64(time.Second))
	select {
	case <-r.stop:
	case <-time.After(rest):
	}
	return nil
}

// Status returns anti-entropy's progress and how many of this node's
// buckets are behind.
func (rp *repairer) Status() RepairStatus {
	behind := 0
	self := rp.r.d.Self
	for b, p := range rp.r.d.Cluster.Placements() {
		if p.Stores(self) && !rp.inSync(b) {
			behind++
		}
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	st := rp.status
	st.BucketsBehind = behind
	return st
}
