package metadata

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dakkio/dakkio/cluster"
	"github.com/dakkio/dakkio/internal/peerrpc"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store"
)

func TestApplyForwardsFromFollower(t *testing.T) {
	s, r, p := newFollower(t)
	r.applyErr = cluster.ErrNotLeader
	var got any
	p.apply = func(body []byte) ([]byte, uint64, error) {
		cmd, err := cluster.DecodeForward(body)
		if err != nil {
			return nil, 0, err
		}
		got = cmd
		out, err := cluster.EncodeResult(cmd, nil, nil)
		return out, 7, err
	}
	cmd := store.CreateOrg{Org: store.Org{ID: "o1", Name: "acme"}}
	if _, err := s.Apply(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	if c, ok := got.(store.CreateOrg); !ok || c.Org.Name != "acme" {
		t.Fatalf("leader got %#v, want the CreateOrg", got)
	}
	// Read your writes: the answer waits until this node has applied it.
	if w := r.waits(); !slices.Equal(w, []uint64{7}) {
		t.Fatalf("waited for %v, want [7]", w)
	}
}

func TestApplyErrors(t *testing.T) {
	for _, tc := range []struct {
		name        string
		leaderID    string
		applyErr    error
		forwardErr  error
		unavailable bool
		kind        error
	}{
		{name: "business error from the leader", leaderID: "a", applyErr: &store.Error{Kind: store.ErrConflict, Message: "taken"}, kind: store.ErrConflict},
		{name: "no leader known", applyErr: cluster.ErrNotLeader, unavailable: true, kind: cluster.ErrNoLeader},
		{name: "leader not alive", leaderID: "a", applyErr: cluster.ErrNotLeader, forwardErr: peerrpc.ErrNotAlive, unavailable: true, kind: cluster.ErrNoLeader},
		{name: "leader refuses", leaderID: "a", applyErr: cluster.ErrNotLeader, forwardErr: errors.New("503"), unavailable: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, r, p := newFollower(t)
			r.leaderID, r.applyErr = tc.leaderID, tc.applyErr
			p.apply = func([]byte) ([]byte, uint64, error) { return nil, 0, tc.forwardErr }
			_, err := s.Apply(context.Background(), store.CreateOrg{Org: store.Org{ID: "o1"}})
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, replication.ErrUnavailable) != tc.unavailable {
				t.Fatalf("%v: unavailable %v, want %v", err, !tc.unavailable, tc.unavailable)
			}
			if tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Fatalf("%v: want %v", err, tc.kind)
			}
		})
	}
}

func TestApplyTellsAppliedCommands(t *testing.T) {
	var told []any
	s, _, _ := newFollower(t, func(c *Config) { c.Applied = func(cmd any) { told = append(told, cmd) } })
	s.cfg.Raft.(*fakeRaft).leader = true
	cmd := store.TestWebhook{WebhookID: "w1"}
	if _, err := s.Apply(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	if len(told) != 1 || told[0] != any(cmd) {
		t.Fatalf("told %v, want the command", told)
	}
}

func TestSyncedCatchesUpBeforeNotFound(t *testing.T) {
	for _, tc := range []struct {
		name      string
		clustered bool
		readErr   error
		want      error // nil: found
		asked     int64
	}{
		{name: "lone node answers from its copy", want: store.ErrNotFound},
		{name: "follower finds it after catching up", clustered: true, asked: 1},
		{name: "leader unreachable", clustered: true, readErr: errors.New("cut off"), want: replication.ErrUnavailable, asked: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, r, p := newFollower(t, func(c *Config) {
				c.Cluster = fakeCluster{clustered: tc.clustered}
			})
			// Created through another node: committed at 3, not yet
			// applied here.
			r.backlog[3] = store.CreateOrg{Org: store.Org{ID: "o1", Name: "acme"}}
			p.readIndex.Store(3)
			p.readErr = tc.readErr
			org, err := s.Synced().Org("o1")
			if tc.want == nil && (err != nil || org.Name != "acme") {
				t.Fatalf("got %+v, %v; want acme", org, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if n := p.readCalls.Load(); n != tc.asked {
				t.Fatalf("asked the leader %d times, want %d", n, tc.asked)
			}
		})
	}
}

func TestKeyLease(t *testing.T) {
	s, _, p := newFollower(t, func(c *Config) { c.KeyLease = time.Hour })
	p.readErr = errors.New("cut off")
	if err := s.KeyLease(); !errors.Is(err, replication.ErrUnavailable) {
		t.Fatalf("never confirmed and cut off: %v, want unavailable", err)
	}
	p.readErr = nil
	if err := s.KeyLease(); err != nil {
		t.Fatal(err)
	}
	// Confirmed: within the lease no call goes to the leader.
	asked := p.readCalls.Load()
	if err := s.KeyLease(); err != nil || p.readCalls.Load() != asked {
		t.Fatalf("within the lease: %v, asked %d more times", err, p.readCalls.Load()-asked)
	}
}

func TestStaleReadsChaosSkipsTheBarrier(t *testing.T) {
	s, _, p := newFollower(t, func(c *Config) { c.ChaosBug = "stale-reads" })
	p.readErr = errors.New("cut off")
	if err := s.ReadBarrier(context.Background()); err != nil || p.readCalls.Load() != 0 {
		t.Fatalf("got %v after %d calls, want nil without asking", err, p.readCalls.Load())
	}
}

// TestReadIndexRoundsShared: callers arriving while a round runs share the
// next one, and none is served by a round that started before it came.
func TestReadIndexRoundsShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b readIndexRounds
		gate := make(chan struct{})
		var calls atomic.Int64
		fetch := func(context.Context) (uint64, error) {
			n := calls.Add(1)
			if n == 1 {
				<-gate
			}
			return uint64(n), nil
		}
		var wg sync.WaitGroup
		got := make([]uint64, 6)
		wg.Go(func() { got[0], _ = b.wait(t.Context(), fetch) })
		synctest.Wait() // the first round is running
		for i := 1; i < len(got); i++ {
			wg.Go(func() { got[i], _ = b.wait(t.Context(), fetch) })
		}
		synctest.Wait()
		close(gate)
		wg.Wait()
		if calls.Load() != 2 {
			t.Fatalf("%d rounds, want 2", calls.Load())
		}
		if want := []uint64{1, 2, 2, 2, 2, 2}; !slices.Equal(got, want) {
			t.Fatalf("indexes %v, want %v", got, want)
		}
	})
}

func TestNotLeader(t *testing.T) {
	s, r, _ := newFollower(t)
	err := s.NotLeader(context.Background(), "this node is not the Raft leader")
	var nl *replication.NotLeaderError
	if !errors.As(err, &nl) || nl.LeaderURL != "http://a:8080" || !errors.Is(err, replication.ErrUnavailable) {
		t.Fatalf("got %v, want a NotLeaderError naming http://a:8080", err)
	}
	r.leaderID = "b" // leadership moving to this node: none other known
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.NotLeader(ctx, "moving"); !errors.As(err, &nl) || nl.LeaderURL != "" {
		t.Fatalf("got %v, want no leader named", err)
	}
}

func TestSpreadRuleChangeWaitsForLiveReplicas(t *testing.T) {
	s, r, p := newFollower(t)
	r.leader = true
	st := s.cfg.State
	if err := st.ApplyCreateOrg(store.CreateOrg{Org: store.Org{ID: "o1", Name: "acme"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.ApplyCreateBucket(store.CreateBucket{Bucket: store.Bucket{ID: "bk1", OrganizationID: "o1", Name: "b"}, Replicas: []string{"a", "b", "d"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(context.Background(), store.CreateAlert{Rule: store.AlertRule{ID: "r1", BucketID: "bk1"}}); err != nil {
		t.Fatal(err)
	}
	// "b" is this node and "d" is not alive: only "a" is waited for.
	var waited []string
	p.waitedFor.Range(func(k, _ any) bool { waited = append(waited, k.(string)); return true })
	if !slices.Equal(waited, []string{"a"}) {
		t.Fatalf("waited for %v, want [a]", waited)
	}
}
