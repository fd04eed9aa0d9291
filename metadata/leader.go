package metadata

import (
	"context"
	"time"

	"github.com/dakkio/dakkio/replication"
)

// leaderWait bounds how long NotLeader waits to learn who leads before it
// answers without naming a leader.
const leaderWait = 3 * time.Second

// NotLeader returns a replication.NotLeaderError naming the leader, waiting a little
// (bounded by ctx and leaderWait) for one other than this node to be known.
func (s *Service) NotLeader(ctx context.Context, reason string) error {
	ctx, cancel := context.WithTimeout(ctx, leaderWait)
	defer cancel()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	url := s.LeaderURL()
	for url == "" {
		select {
		case <-ctx.Done():
			return &replication.NotLeaderError{Reason: reason}
		case <-t.C:
		}
		url = s.LeaderURL()
	}
	return &replication.NotLeaderError{Reason: reason, LeaderURL: url}
}

// LeaderURL is the HTTP base URL of the leader, as gossip announces it; ""
// when this node leads, knows no leader, or gossip does not know its address.
func (s *Service) LeaderURL() string {
	leader := s.cfg.Raft.Status().LeaderID
	if !s.cfg.Cluster.Clustered() || leader == "" || leader == s.cfg.Self {
		return ""
	}
	return s.cfg.Cluster.AliveURL(leader)
}
