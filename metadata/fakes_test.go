package metadata

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dakkio/dakkio/cluster"
	"github.com/dakkio/dakkio/store"
)

// fakeRaft is this node's Raft: a follower (or the leader) whose log
// reaches the state only when WaitApplied is called, so that a test sees
// when the Service caught up.
type fakeRaft struct {
	mu       sync.Mutex
	leader   bool
	leaderID string
	state    *store.State
	applied  uint64
	backlog  map[uint64]store.CreateOrg // committed, not yet applied here
	waited   []uint64
	applyErr error // what ApplyIndexed answers
	// leaderSince: when a leader took over (zero: unknown)
	leaderSince time.Time
}

func (r *fakeRaft) ApplyIndexed(context.Context, any) (any, uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.applyErr != nil {
		return nil, 0, r.applyErr
	}
	return nil, r.applied + 1, nil
}

func (r *fakeRaft) IsLeader() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leader
}

func (r *fakeRaft) Status() cluster.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return cluster.Status{LeaderID: r.leaderID}
}

func (r *fakeRaft) ReadIndex() (uint64, error) { return 1, nil }

func (r *fakeRaft) LeaderSince() (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leaderSince, r.leader && !r.leaderSince.IsZero()
}

func (r *fakeRaft) WaitApplied(_ context.Context, index uint64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waited = append(r.waited, index)
	for i := r.applied + 1; i <= index; i++ {
		if c, ok := r.backlog[i]; ok {
			if err := r.state.ApplyCreateOrg(c); err != nil {
				return err
			}
		}
	}
	r.applied = max(r.applied, index)
	return nil
}

func (r *fakeRaft) waits() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.waited...)
}

// fakePeers is the other nodes: the leader's read index and forwarded
// applies.
type fakePeers struct {
	readIndex atomic.Uint64
	readErr   error
	readCalls atomic.Int64
	apply     func(cmd []byte) ([]byte, uint64, error)
	waitedFor sync.Map // node id → index
}

func (p *fakePeers) Apply(_ context.Context, _ string, cmd []byte) ([]byte, uint64, error) {
	return p.apply(cmd)
}

func (p *fakePeers) ReadIndex(context.Context, string, string) (uint64, error) {
	p.readCalls.Add(1)
	return p.readIndex.Load(), p.readErr
}

func (p *fakePeers) WaitApplied(_ context.Context, nodeID string, index uint64) error {
	p.waitedFor.Store(nodeID, index)
	return nil
}

// fakeCluster is gossip's view: the nodes alive and their URLs.
type fakeCluster struct {
	clustered bool
	urls      map[string]string
}

func (c fakeCluster) Clustered() bool               { return c.clustered }
func (c fakeCluster) AliveURL(nodeID string) string { return c.urls[nodeID] }

// newFollower returns the Service of node "b", a follower of "a" in a
// three-node cluster.
func newFollower(t *testing.T, opts ...func(*Config)) (*Service, *fakeRaft, *fakePeers) {
	t.Helper()
	st := store.NewState(1 << 20)
	r := &fakeRaft{leaderID: "a", state: st, backlog: map[uint64]store.CreateOrg{}}
	p := &fakePeers{}
	cfg := Config{
		Self: "b", State: st, Raft: r, Peers: p, Logger: slog.New(slog.DiscardHandler),
		Cluster: fakeCluster{clustered: true, urls: map[string]string{"a": "http://a:8080", "b": "http://b:8080", "c": "http://c:8080"}},
	}
	for _, o := range opts {
		o(&cfg)
	}
	s := New(cfg)
	t.Cleanup(s.Close)
	return s, r, p
}

// fakeVoters is the Raft configuration; err, when set, is what reading
// it fails with.
type fakeVoters struct {
	ids []string
	err error
}

func (v fakeVoters) Servers() ([]cluster.Server, error) {
	if v.err != nil {
		return nil, v.err
	}
	var out []cluster.Server
	for _, id := range v.ids {
		out = append(out, cluster.Server{ID: id, Voter: true})
	}
	return out, nil
}
func (fakeVoters) RemoveServer(string) error { return nil }
func (fakeVoters) TransferLeadership() error { return nil }
