package node

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
	"github.com/dakkio/dakkio/store"
)

// readIndexTimeout bounds how long a lookup that missed waits to catch up.
const readIndexTimeout = 2 * time.Second

// syncedMeta serves metadata reads from this node's copy, but before it
// says that a key, bucket, source, rule or organization does not exist, a
// follower catches up with the leader's commit index and looks again. So
// a client that created something through one node can use it at once
// through any other, while hits (the common case) stay local and cheap.
type syncedMeta struct {
	*store.State
	n *Node
}

// catchUp waits until this node has applied everything the leader had
// committed when asked. It returns false when there is nothing to catch up
// with (a single node), and an error wrapping replication.ErrUnavailable when
// it could not: then "not found" cannot be told from "not here yet".
func (m syncedMeta) catchUp() (bool, error) {
	if m.n.members == nil {
		return false, nil
	}
	if err := m.n.ReadBarrier(context.Background()); err != nil {
		m.n.log.Warn("cannot catch up with the leader to look for something this node lacks", "err", err)
		return false, err
	}
	return true, nil
}

// ReadBarrier returns once this node has applied everything the leader had
// committed when the barrier started (the leader confirms it still leads),
// so that what it reads next is linearizable. Concurrent callers share
// rounds. A single node has nothing to wait for.
func (n *Node) ReadBarrier(ctx context.Context) error {
	if n.members == nil || chaosBug == "stale-reads" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, readIndexTimeout)
	defer cancel()
	start := time.Now()
	index, err := n.readIndex.wait(ctx, n.leaderReadIndex)
	if err == nil {
		err = n.raft.WaitApplied(ctx, index)
	}
	if err != nil {
		return fmt.Errorf("%w: cannot confirm with the leader that this node is current: %w", replication.ErrUnavailable, err)
	}
	n.noteCurrent(start)
	return nil
}

// processStart is the origin of currentAsOf: time measured from it is on
// Go's monotonic clock, so a step of the wall clock cannot stretch a lease.
var processStart = time.Now()

// noteCurrent records that this node has applied everything committed
// before at: the start of a read barrier that succeeded, since the round
// it joined began no earlier.
func (n *Node) noteCurrent(at time.Time) {
	mono := int64(at.Sub(processStart)) + 1 // 0 stays "never"
	for {
		old := n.currentAsOf.Load()
		if mono <= old || n.currentAsOf.CompareAndSwap(old, mono) {
			return
		}
	}
}

// currentAge is how long ago this node was last known current (the
// maximum duration if never).
func (n *Node) currentAge() time.Duration {
	at := n.currentAsOf.Load()
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
func (n *Node) KeyLease() error {
	if n.members == nil {
		return nil
	}
	if n.currentAge() <= n.cfg.KeyLease {
		return nil
	}
	return n.ReadBarrier(context.Background())
}

// confirmKeys renews the key lease every quarter lease, unless reads
// renewed it meanwhile.
func (n *Node) confirmKeys() {
	defer n.bg.Done()
	every := n.cfg.KeyLease / 4
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-n.stopBG:
			return
		case <-t.C:
		}
		if n.currentAge() < every {
			continue
		}
		if err := n.ReadBarrier(context.Background()); err != nil {
			n.log.Debug("cannot renew the key lease", "err", err)
		}
	}
}

// leaderReadIndex returns the leader's read index: this node's own when it
// leads, else asked of the leader.
func (n *Node) leaderReadIndex(ctx context.Context) (uint64, error) {
	if n.raft.IsLeader() {
		return n.raft.ReadIndex()
	}
	return n.fetchReadIndex(ctx)
}

// lookUp runs get, and once more after catching up when it finds nothing.
func lookUp[T any](m syncedMeta, get func() (T, error)) (T, error) {
	v, err := get()
	if !errors.Is(err, store.ErrNotFound) {
		return v, err
	}
	caught, cerr := m.catchUp()
	if cerr != nil {
		return v, cerr
	}
	if caught {
		return get()
	}
	return v, err
}

// Authenticate answers an unknown key with false (401) also when it could
// not catch up: a node cut off from the leader refuses every key after its
// lease anyway.
func (m syncedMeta) Authenticate(keyHash string) (store.Principal, bool) {
	if chaosBug == "keep-revoked-keys" {
		return m.n.chaosKeys(keyHash, m.State.Authenticate)
	}
	p, ok := m.State.Authenticate(keyHash)
	if !ok {
		if caught, _ := m.catchUp(); caught {
			p, ok = m.State.Authenticate(keyHash)
		}
	}
	return p, ok
}

// CheckOperatorToken catches up before it refuses a token, so a token
// rotated through another node works here at once.
func (m syncedMeta) CheckOperatorToken(tokenHash string) bool {
	if m.State.CheckOperatorToken(tokenHash) {
		return true
	}
	caught, _ := m.catchUp()
	return caught && m.State.CheckOperatorToken(tokenHash)
}

func (m syncedMeta) Org(id string) (store.Org, error) {
	return lookUp(m, func() (store.Org, error) { return m.State.Org(id) })
}

func (m syncedMeta) Bucket(orgID, id string) (store.Bucket, error) {
	return lookUp(m, func() (store.Bucket, error) { return m.State.Bucket(orgID, id) })
}

func (m syncedMeta) Source(bucketID, id string) (store.DataSource, error) {
	return lookUp(m, func() (store.DataSource, error) { return m.State.Source(bucketID, id) })
}

// SharedSourceByName is SourceByName with the schema shared, read-only
// (the protocol writes' lookup).
func (m syncedMeta) SharedSourceByName(bucketID, name string) (store.DataSource, error) {
	return lookUp(m, func() (store.DataSource, error) { return m.State.SharedSourceByName(bucketID, name) })
}

// SharedSource is Source with the schema shared, read-only (ingest's lookup).
func (m syncedMeta) SharedSource(bucketID, id string) (store.DataSource, error) {
	return lookUp(m, func() (store.DataSource, error) { return m.State.SharedSource(bucketID, id) })
}

func (m syncedMeta) SourceByName(bucketID, name string) (store.DataSource, error) {
	return lookUp(m, func() (store.DataSource, error) { return m.State.SourceByName(bucketID, name) })
}

func (m syncedMeta) BucketByName(orgID, name string) (store.Bucket, error) {
	return lookUp(m, func() (store.Bucket, error) { return m.State.BucketByName(orgID, name) })
}

func (m syncedMeta) Alert(orgID, id string) (store.AlertRule, error) {
	return lookUp(m, func() (store.AlertRule, error) { return m.State.Alert(orgID, id) })
}

func (m syncedMeta) Webhook(orgID, id string) (store.Webhook, error) {
	return lookUp(m, func() (store.Webhook, error) { return m.State.Webhook(orgID, id) })
}

func (m syncedMeta) WebhookDelivery(webhookID, id string) (store.WebhookDelivery, error) {
	return lookUp(m, func() (store.WebhookDelivery, error) { return m.State.WebhookDelivery(webhookID, id) })
}

// fetchReadIndex asks the leader for its read index.
func (n *Node) fetchReadIndex(ctx context.Context) (uint64, error) {
	leader := n.raft.Status().LeaderID
	if leader == "" {
		return 0, errors.New("no live leader")
	}
	return n.rpc.ReadIndex(ctx, leader)
}

// serveReadIndex is the handler of peerrpc.PathReadIndex: 503 unless this
// node leads and could confirm it.
func (n *Node) serveReadIndex(context.Context, []byte) peerrpc.Answer {
	index, err := n.raft.ReadIndex()
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

// chaosKeys is the keep-revoked-keys bug: a key seen once is accepted for
// ever, whatever the state says since.
func (n *Node) chaosKeys(keyHash string, lookup func(string) (store.Principal, bool)) (store.Principal, bool) {
	n.chaosMu.Lock()
	defer n.chaosMu.Unlock()
	if p, ok := n.chaosSeen[keyHash]; ok {
		return p, true
	}
	p, ok := lookup(keyHash)
	if ok {
		if n.chaosSeen == nil {
			n.chaosSeen = map[string]store.Principal{}
		}
		n.chaosSeen[keyHash] = p
	}
	return p, ok
}
