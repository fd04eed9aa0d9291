package node

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/dakkio/dakkio/cluster"
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
	n *Node

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

func newRepairer(n *Node) *repairer {
	// Epoch 1 is the start: a node that just started may have missed writes.
	return &repairer{n: n, epoch: 1, lostAt: 1, synced: map[string]map[string]uint64{}, born: map[string]uint64{}, alive: map[string]bool{}, missing: map[string]bool{},
		movedAway: map[string]time.Time{}}
}

// mayHaveMissedWrites marks every bucket of this node as possibly behind.
func (rp *repairer) mayHaveMissedWrites(why string) {
	rp.mu.Lock()
	rp.epoch++
	rp.lostAt = rp.epoch
	rp.mu.Unlock()
	rp.n.log.Info("this node may have missed writes; its reads are marked partial until repair has run", "why", why)
}

// quorumCover is how many co-replicas a node must have compared with to
// hold every write acknowledged at quorum among n replicas.
func quorumCover(n int) int { return n - (n/2 + 1) }

// inSync reports whether this node's copy of the bucket holds every write
// acknowledged at quorum, as far as it can tell.
func (rp *repairer) inSync(bucketID string) bool {
	if _, known := rp.n.state.BucketRetention(bucketID); !known {
		// Not applied here yet (a node catching up with the log): its
		// store would answer nothing at all for the bucket.
		return false
	}
	p := rp.n.state.BucketPlacement(bucketID)
	self := rp.n.cfg.NodeID
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
// this process being paused (SIGSTOP, a VM freeze). It runs until Close.
func (rp *repairer) watch() {
	n := rp.n
	defer n.bg.Done()
	const every = 200 * time.Millisecond
	t := time.NewTicker(every)
	defer t.Stop()
	last := time.Now()
	leaderLost := false
	tick := 0
	for {
		select {
		case <-n.stopBG:
			return
		case now := <-t.C:
			if gap := now.Sub(last); gap > 10*every {
				rp.mayHaveMissedWrites(fmt.Sprintf("paused for %s", gap.Round(time.Millisecond)))
			}
			last = now
		}
		rp.noteNewBuckets()
		alive := map[string]bool{}
		for _, m := range n.members.Alive() {
			alive[m.ID] = true
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
		cut := !n.raft.IsLeader() && time.Since(n.raft.LastContact()) > time.Second
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
	self := rp.n.cfg.NodeID
	placements := rp.n.state.Placements()
	rp.mu.Lock()
	defer rp.mu.Unlock()
	for b, p := range placements {
		if _, known := rp.born[b]; !known && (slices.Contains(p.Replicas, self) || slices.Contains(p.Pending, self)) {
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
	n := rp.n
	var peers []string
	for _, m := range n.members.Alive() {
		if m.ID != n.cfg.NodeID {
			peers = append(peers, m.ID)
		}
	}
	failed := make(chan string, len(peers))
	var wg sync.WaitGroup
	for _, id := range peers {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if err := n.rpc.Ping(ctx, id); err != nil {
				failed <- id
			}
		})
	}
	wg.Wait()
	close(failed)
	return <-failed
}

// run makes a repair pass every RepairInterval until Close.
func (rp *repairer) run() {
	n := rp.n
	defer n.bg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-n.stopBG:
			return
		case <-t.C:
		}
		if n.raft.IsLeader() {
			n.reconcilePlacement()
		}
		rp.pass()
		// A node that may miss writes (just started, paused, cut off)
		// repairs again soon rather than answer partial for a whole
		// interval; its peers may not have been alive on the last pass.
		next := n.cfg.Replication.RepairInterval
		if rp.Status().BucketsBehind > 0 {
			next = min(next, behindRetry)
		}
		t.Reset(next)
	}
}

// pass compares every bucket this node holds with each live co-replica.
func (rp *repairer) pass() {
	n := rp.n
	self := n.cfg.NodeID
	type job struct {
		bucket string
		p      store.PlacementView
	}
	var jobs []job
	for b, p := range n.state.Placements() {
		if slices.Contains(p.Replicas, self) || slices.Contains(p.Pending, self) {
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
			if peer == self || n.peerHTTP(peer) == "" {
				continue
			}
			if err := rp.repairFrom(j.bucket, peer); err != nil {
				lastErr = err
				n.log.Debug("repair from a replica failed", "bucket", j.bucket, "peer", peer, "err", err)
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
			case <-n.stopBG:
				return
			default:
			}
		}
		// A pending replica has caught up once it compared with every
		// replica serving reads that is alive, and at least one.
		if slices.Contains(j.p.Pending, self) && compared > 0 && compared == rp.liveReplicas(j.p) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if _, err := n.Apply(ctx, store.ReplicaCaughtUp{Bucket: j.bucket, Node: self}); err != nil {
				lastErr = err
			} else {
				n.log.Info("caught up with a bucket: serving its reads", "bucket", j.bucket)
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
	n := rp.n
	self := n.cfg.NodeID
	hosts := func(b string) bool {
		if _, known := n.state.BucketRetention(b); !known {
			return true // deleted (its delete removes the points) or not applied yet
		}
		p := n.state.BucketPlacement(b)
		return len(p.Replicas) == 0 || slices.Contains(p.Replicas, self) || slices.Contains(p.Pending, self) || slices.Contains(p.Leaving, self)
	}
	now := time.Now()
	away := map[string]bool{}
	for _, b := range n.pts.Buckets() {
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
	if err := n.ReadBarrier(context.Background()); err != nil {
		n.log.Debug("cannot confirm that buckets moved away; keeping their copies for now", "buckets", len(due), "err", err)
		return
	}
	for _, b := range due {
		if hosts(b) {
			continue
		}
		dropped := n.pts.DeleteBucket(b)
		rp.mu.Lock()
		delete(rp.movedAway, b)
		rp.status.MovedAwayDropped++
		rp.mu.Unlock()
		n.log.Info("deleted this node's copy of a bucket that moved to other replicas", "bucket", b, "points", dropped)
	}
}

func (rp *repairer) liveReplicas(p store.PlacementView) int {
	live := 0
	for _, id := range p.Replicas {
		if id != rp.n.cfg.NodeID && rp.n.peerHTTP(id) != "" {
			live++
		}
	}
	return live
}

// repairFrom copies from peer the hours of the bucket where the peer's
// digest differs from this node's.
func (rp *repairer) repairFrom(bucketID, peer string) error {
	n := rp.n
	days, ok := n.state.BucketRetention(bucketID)
	if !ok {
		return nil // deleted meanwhile
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rg := points.Range{BucketID: bucketID, Start: n.cfg.Now().Add(-time.Duration(days) * 24 * time.Hour).UnixNano(), End: math.MaxInt64}
	theirs, err := n.rpc.Digests(ctx, peer, rg)
	if err != nil {
		return err
	}
	mine, err := n.pts.Digests(ctx, bucketID, rg.Start, rg.End)
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
		pts, err := n.rpc.HourPoints(ctx, peer, bucketID, d.Source, d.Hour)
		if err != nil {
			return err
		}
		wrote, err := n.pts.Merge(ctx, bucketID, pts)
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
		n.log.Info("repaired a bucket from a replica", "bucket", bucketID, "peer", peer, "hours", repairedHours, "points", repairedPoints)
	}
	// Rate limit: rest in proportion to the points compared.
	rest := time.Duration(float64(compared) / float64(n.cfg.Replication.RepairRate) * float64(time.Second))
	select {
	case <-n.stopBG:
	case <-time.After(rest):
	}
	return nil
}

// Status returns anti-entropy's progress and how many of this node's
// buckets are behind.
func (rp *repairer) Status() RepairStatus {
	behind := 0
	self := rp.n.cfg.NodeID
	for b, p := range rp.n.state.Placements() {
		if (slices.Contains(p.Replicas, self) || slices.Contains(p.Pending, self)) && !rp.inSync(b) {
			behind++
		}
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	st := rp.status
	st.BucketsBehind = behind
	return st
}

// reconcilePlacement, on the leader, replaces in every placement the nodes
// that are no longer Raft servers: each bucket gets new pending replicas,
// which copy it from the survivors, up to the replication factor.
func (n *Node) reconcilePlacement() {
	servers := n.serverIDs()
	if len(servers) == 0 {
		return
	}
	rf := min(n.cfg.ReplicationFactor, len(servers))
	gone := func(id string) bool { return !slices.Contains(servers, id) }
	var moves []store.Move
	for b, p := range n.state.Placements() {
		if !slices.ContainsFunc(p.Replicas, gone) && !slices.ContainsFunc(p.Pending, gone) && !slices.ContainsFunc(p.Leaving, gone) {
			continue
		}
		m := store.Move{
			Bucket:   b,
			Replicas: slices.DeleteFunc(p.Replicas, gone),
			Pending:  slices.DeleteFunc(p.Pending, gone),
			Leaving:  slices.DeleteFunc(p.Leaving, gone),
		}
		for _, id := range cluster.PlaceReplicas(b, servers, len(servers)) {
			if len(m.Replicas)+len(m.Pending)-len(m.Leaving) >= rf {
				break
			}
			if !slices.Contains(m.Replicas, id) && !slices.Contains(m.Pending, id) {
				m.Pending = append(m.Pending, id)
			}
		}
		if len(m.Replicas) == 0 {
			// No survivor holds the bucket: the new nodes serve what they get.
			m.Replicas, m.Pending = m.Pending, nil
		}
		moves = append(moves, m)
	}
	if len(moves) == 0 {
		return
	}
	slices.SortFunc(moves, func(a, b store.Move) int { return cmp.Compare(a.Bucket, b.Bucket) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.Apply(ctx, store.Rebalance{Moves: moves}); err != nil {
		n.log.Warn("cannot re-replicate the buckets of removed nodes", "buckets", len(moves), "err", err)
		return
	}
	n.log.Info("re-replicating the buckets of removed nodes", "buckets", len(moves))
}

// Rebalance moves buckets onto the replicas rendezvous hashing picks over
// the current servers (after nodes were added): each move adds the new
// replicas as pending and drops the old ones once they have caught up.
// Buckets with a move in progress are left alone. It returns the moves.
func (n *Node) Rebalance(ctx context.Context) (any, error) {
	servers := n.serverIDs()
	if n.members == nil || len(servers) == 0 {
		return map[string]any{"moves": []store.Move{}}, nil
	}
	rf := min(n.cfg.ReplicationFactor, len(servers))
	moves := []store.Move{}
	for b, p := range n.state.Placements() {
		if len(p.Pending) > 0 || len(p.Leaving) > 0 {
			continue
		}
		want := cluster.PlaceReplicas(b, servers, rf)
		add := slices.DeleteFunc(slices.Clone(want), func(id string) bool { return slices.Contains(p.Replicas, id) })
		drop := slices.DeleteFunc(slices.Clone(p.Replicas), func(id string) bool { return slices.Contains(want, id) })
		if len(add) == 0 && len(drop) == 0 {
			continue
		}
		moves = append(moves, store.Move{Bucket: b, Replicas: p.Replicas, Pending: add, Leaving: drop})
	}
	slices.SortFunc(moves, func(a, b store.Move) int { return cmp.Compare(a.Bucket, b.Bucket) })
	if len(moves) > 0 {
		if _, err := n.Apply(ctx, store.Rebalance{Moves: moves}); err != nil {
			return nil, err
		}
	}
	return map[string]any{"moves": moves}, nil
}
