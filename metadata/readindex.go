package metadata

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/dakkio/dakkio/internal/peerrpc"
	"github.com/dakkio/dakkio/replication"
)

// readIndexTimeout bounds how long a lookup that missed waits to catch up.
const readIndexTimeout = 2 * time.Second

// ReadBarrier returns once this node has applied everything the leader had
// committed when the barrier started (the leader confirms it still leads),
// so that what it reads next is linearizable. Concurrent callers share
// rounds. A single node has nothing to wait for.
func (s *Service) ReadBarrier(ctx context.Context) error {
	if !s.cfg.Cluster.Clustered() || s.cfg.ChaosBug == "stale-reads" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, readIndexTimeout)
	defer cancel()
	start := time.Now()
	index, err := s.readIndex.wait(ctx, s.leaderReadIndex)
	if err == nil {
		err = s.cfg.Raft.WaitApplied(ctx, index)
	}
	if err != nil {
		return fmt.Errorf("%w: cannot confirm with the leader that this node is current: %w", replication.ErrUnavailable, err)
	}
	s.noteCurrent(start)
	return nil
}

// processStart is the origin of currentAsOf: time measured from it is on
// Go's monotonic clock, so a step of the wall clock cannot stretch a lease.
var processStart = time.Now()

// noteCurrent records that this node has applied everything committed
// before at: the start of a read barrier that succeeded, since the round
// it joined began no earlier.
func (s *Service) noteCurrent(at time.Time) {
	mono := int64(at.Sub(processStart)) + 1 // 0 stays "never"
	for {
		old := s.currentAsOf.Load()
		if mono <= old || s.currentAsOf.CompareAndSwap(old, mono) {
			return
		}
	}
}

// CurrentAge is how long ago this node was last known current (the
// maximum duration if never).
func (s *Service) CurrentAge() time.Duration {
	at := s.currentAsOf.Load()
	if at == 0 {
		return math.MaxInt64
	}
	return time.Since(processStart) - time.Duration(at-1)
}

// KeyLease returns nil while this node may trust its copy of the API keys:
// it has applied everything the leader had committed at most KeyLease ago.
// A delete acknowledged at time T is then applied here by T+KeyLease, or
// the node refuses keys (503) from then on. Heartbeats alone would not do:
// after a partition heals, a follower hears the leader's heartbeats at
// once while Raft may still back off for seconds before sending it the
// entries it missed, deletes among them. When the lease has run out, a
// call waits for one read barrier (shared with concurrent callers) to
// renew it; confirmKeys renews it ahead so that calls rarely wait.
func (s *Service) KeyLease() error {
	if !s.cfg.Cluster.Clustered() {
		return nil
	}
	if s.CurrentAge() <= s.cfg.KeyLease {
		return nil
	}
	return s.ReadBarrier(context.Background())
}

// confirmKeys renews the key lease every quarter lease, unless reads
// renewed it meanwhile.
func (s *Service) confirmKeys() {
	every := s.cfg.KeyLease / 4
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if s.CurrentAge() < every {
			continue
		}
		if err := s.ReadBarrier(context.Background()); err != nil {
			s.log.Debug("cannot renew the key lease", "err", err)
		}
	}
}

// leaderReadIndex returns the leader's read index: this node's own when it
// leads, else asked of the leader.
func (s *Service) leaderReadIndex(ctx context.Context) (uint64, error) {
	if s.cfg.Raft.IsLeader() {
		return s.cfg.Raft.ReadIndex()
	}
	leader := s.cfg.Raft.Status().LeaderID
	if leader == "" {
		return 0, errors.New("no live leader")
	}
	return s.cfg.Peers.ReadIndex(ctx, leader, s.cfg.Self)
}

// ServeReadIndex is the handler of peerrpc.PathReadIndex: 503 unless this
// node leads and could confirm it. It notes whom it serves, before the
// index is taken, for settle; a request naming no node counts for every
// node.
func (s *Service) ServeReadIndex(_ context.Context, body []byte) peerrpc.Answer {
	req, err := peerrpc.DecodeReadIndex(body)
	if err != nil {
		return peerrpc.Answer{Status: http.StatusBadRequest, Body: []byte(err.Error())}
	}
	s.leases.note(req.Node, time.Now())
	index, err := s.cfg.Raft.ReadIndex()
	if err != nil {
		return peerrpc.Answer{Status: http.StatusServiceUnavailable, Body: []byte(err.Error())}
	}
	return peerrpc.Answer{Status: http.StatusOK, Index: index, Body: []byte("{}")}
}

// readIndexRounds shares read-index requests among concurrent callers, so
// a burst of misses (a client with a wrong key, say) costs the leader one
// request at a time per node. A caller always waits for a round that
// started after it arrived: an earlier one might miss what it looks for.
type readIndexRounds struct {
	mu      sync.Mutex
	next    *readIndexRound // the round the next callers join
	running bool
}

type readIndexRound struct {
	done  chan struct{}
	index uint64
	err   error
}

func (b *readIndexRounds) wait(ctx context.Context, fetch func(context.Context) (uint64, error)) (uint64, error) {
	b.mu.Lock()
	if b.next == nil {
		b.next = &readIndexRound{done: make(chan struct{})}
	}
	r := b.next
	if !b.running {
		b.running = true
		b.next = nil
		go b.run(r, fetch)
	}
	b.mu.Unlock()
	select {
	case <-r.done:
		return r.index, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// run serves rounds one after another until no caller waits.
func (b *readIndexRounds) run(r *readIndexRound, fetch func(context.Context) (uint64, error)) {
	for r != nil {
		ctx, cancel := context.WithTimeout(context.Background(), readIndexTimeout)
		r.index, r.err = fetch(ctx)
		cancel()
		close(r.done)
		b.mu.Lock()
		r, b.next = b.next, nil
		if r == nil {
			b.running = false
		}
		b.mu.Unlock()
	}
}
