package metadata

import (
	"context"
	"sync"
	"time"

	"github.com/dakkio/dakkio/internal/peerrpc"
	"github.com/dakkio/dakkio/store"
)

// settleWait bounds how long a change that withdraws something waits for
// the other nodes to confirm they applied it, before it falls back on
// their key leases running out.
const settleWait = time.Second

// leaseMargin covers the nodes' clocks running at slightly different rates
// over a lease.
const leaseMargin = 100 * time.Millisecond

// withdraws reports whether cmd takes something away that a node still
// holding the old state would grant: a key, a bucket or source that took
// writes, an organization's plan, the operator token. Such a change is
// acknowledged only once no node serves the old state (settle).
// Additions need no wait: a node that does not know something yet catches
// up with the leader before it answers 404 (Synced).
func withdraws(cmd any) bool {
	switch cmd.(type) {
	case store.DeleteKey, store.DeleteAdminKey, store.RotateOperatorToken,
		store.DeleteBucket, store.UpdateBucket, store.DeleteSource, store.UpdateSource,
		store.UpdateOrg, store.RestoreState:
		return true
	}
	return false
}

// leaseLedger is the leader's record of when it last gave each node a read
// index: a node's key lease starts before it asks, so a node that has not
// asked since t trusts its keys until t+KeyLease at the latest.
type leaseLedger struct {
	mu     sync.Mutex
	served map[string]time.Time
}

func (l *leaseLedger) note(node string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.served == nil {
		l.served = map[string]time.Time{}
	}
	l.served[node] = at
}

func (l *leaseLedger) lastServed(node string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.served[node]
}

// settle returns once no node serves requests from the state before index,
// which committed at committed: every other Raft server that confirms in
// time has applied it, and for each one that does not (down, cut off,
// slow), its key lease has run out, so it refuses keys (503) until it
// catches up. A node renews its lease only by asking the leader for a read
// index, and every lease a former leader gave started before this leader
// took over; so a node this leader last served at t, or never, is covered
// from max(t, leaderSince)+KeyLease on. That is why the leader settles,
// after its own commits and the ones followers forward; a node that lost
// the leadership meanwhile waits for the whole lease after the commit.
func (s *Service) settle(ctx context.Context, index uint64, committed time.Time) {
	if index == 0 || !s.cfg.Cluster.Clustered() || s.cfg.Voters == nil {
		return
	}
	var until time.Time
	servers, err := s.cfg.Voters.Servers()
	if err != nil {
		// Not knowing who may serve, outwait every lease.
		s.log.Warn("cannot list the servers a withdrawing change must reach", "err", err)
		until = committed.Add(s.cfg.KeyLease + leaseMargin)
	}
	ids := make([]string, len(servers))
	for i, srv := range servers {
		ids[i] = srv.ID
	}
	unconfirmed := s.awaitApplied(ctx, ids, index, settleWait)
	for id := range unconfirmed {
		until = maxTime(until, s.leaseEnd(id, committed))
	}
	if wait := time.Until(until); wait > 0 {
		s.log.Info("waiting for the key leases of nodes that did not confirm a withdrawing change", "nodes", len(unconfirmed), "index", index, "wait", wait)
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
}

// awaitApplied asks the nodes of ids other than this one, all at once, to
// confirm within wait that they have applied index, and returns those that
// did not and why; a node gossip does not see alive is not asked
// (peerrpc.ErrNotAlive).
func (s *Service) awaitApplied(ctx context.Context, ids []string, index uint64, wait time.Duration) map[string]error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var mu sync.Mutex
	failed := map[string]error{}
	var wg sync.WaitGroup
	for _, id := range ids {
		if id == s.cfg.Self {
			continue
		}
		if s.cfg.Cluster.AliveURL(id) == "" {
			failed[id] = peerrpc.ErrNotAlive
			continue
		}
		wg.Go(func() {
			if err := s.cfg.Peers.WaitApplied(ctx, id, index); err != nil {
				mu.Lock()
				failed[id] = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return failed
}

// leaseEnd is when node's key lease, renewed before the change committed at
// committed, has surely run out.
func (s *Service) leaseEnd(node string, committed time.Time) time.Time {
	start := committed
	if since, ok := s.cfg.Raft.LeaderSince(); ok {
		served := maxTime(s.leases.lastServed(node), s.leases.lastServed(""))
		start = minTime(committed, maxTime(served, since))
	}
	return start.Add(s.cfg.KeyLease + leaseMargin)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
