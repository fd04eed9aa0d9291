package metadata

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/dakkio/dakkio/store"
)

// newSettlingLeader returns node "b" leading a cluster of a, b, c and d,
// where gossip sees a and c alive and d down, with a short key lease.
func newSettlingLeader(t *testing.T, lease time.Duration, leaderSince time.Time) (*Service, *fakePeers) {
	t.Helper()
	s, r, p := newFollower(t, func(c *Config) {
		c.Voters = fakeVoters{ids: []string{"a", "b", "c", "d"}}
		c.KeyLease = lease
	})
	r.leader, r.leaderID, r.leaderSince = true, "b", leaderSince
	return s, p
}

func waitedFor(p *fakePeers) []string {
	var ids []string
	p.waitedFor.Range(func(k, _ any) bool { ids = append(ids, k.(string)); return true })
	slices.Sort(ids)
	return ids
}

// TestWithdrawingChangeWaitsForEveryNode: a key delete is answered once
// every live server has applied it; a server down that this leader never
// renewed a lease for since it took over is not waited for.
func TestWithdrawingChangeWaitsForEveryNode(t *testing.T) {
	const lease = time.Hour // a wait for a lease would hang the test
	s, p := newSettlingLeader(t, lease, time.Now().Add(-2*lease))
	if _, err := s.Apply(context.Background(), store.DeleteKey{KeyID: "k1"}); err != nil {
		t.Fatal(err)
	}
	if got := waitedFor(p); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("waited for %v to apply the delete, want [a c]", got)
	}
}

// TestWithdrawingChangeOutwaitsALease: a server that cannot confirm, but
// that renewed its key lease with this leader just before the delete, may
// still trust the deleted key until that lease runs out: the delete is
// answered only after it. A lease renewed by an earlier leader counts from
// when this one took over.
func TestWithdrawingChangeOutwaitsALease(t *testing.T) {
	const lease = 300 * time.Millisecond
	for _, tc := range []struct {
		name  string
		setup func(s *Service) (since time.Time)
	}{
		{"renewed by this leader", func(s *Service) time.Time {
			s.ServeReadIndex(context.Background(), []byte(`{"node":"d"}`))
			return time.Now().Add(-time.Hour)
		}},
		{"renewed by a node of an earlier version", func(s *Service) time.Time {
			s.ServeReadIndex(context.Background(), nil)
			return time.Now().Add(-time.Hour)
		}},
		{"leader just took over", func(*Service) time.Time { return time.Now() }},
		{"servers unknown", func(s *Service) time.Time {
			s.cfg.Voters = fakeVoters{err: errors.New("no configuration")}
			return time.Now().Add(-time.Hour)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newSettlingLeader(t, lease, time.Time{})
			since := tc.setup(s)
			s.cfg.Raft.(*fakeRaft).leaderSince = since
			start := time.Now()
			if _, err := s.Apply(context.Background(), store.DeleteKey{KeyID: "k1"}); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took < lease {
				t.Fatalf("the delete was answered after %v, before the lease of %v ran out", took, lease)
			}
		})
	}
}

// TestServeReadIndexRefusesGarbage: a read-index request whose body is not
// the JSON naming a node is a 400, and renews nobody's lease.
func TestServeReadIndexRefusesGarbage(t *testing.T) {
	s, _ := newSettlingLeader(t, time.Hour, time.Now())
	if a := s.ServeReadIndex(context.Background(), []byte(`{"node":`)); a.Status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", a.Status)
	}
	if served := s.leases.lastServed(""); !served.IsZero() {
		t.Fatalf("a refused request was noted as served at %v", served)
	}
}

// TestAdditionsDoNotSettle: creating something waits for no other node.
func TestAdditionsDoNotSettle(t *testing.T) {
	s, p := newSettlingLeader(t, time.Hour, time.Now())
	if _, err := s.Apply(context.Background(), store.CreateKey{}); err != nil {
		t.Fatal(err)
	}
	if got := waitedFor(p); len(got) != 0 {
		t.Fatalf("a creation waited for %v", got)
	}
}
