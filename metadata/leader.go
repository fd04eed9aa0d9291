package metadata

import (
	"context"
	"time"

	"github.com/dakkio/dakkio/replication"
)

// NotLeaderError says that only the Raft leader can make a change (such as
// removing a node) and names it for the caller to retry there. It wraps
// replication.ErrUnavailable: the HTTP API answers 503, with the leader's
// URL, when known, in the message and in a header.
type NotLeaderError struct {
	// Reason says why this node does not make the change, in lower case.
	Reason string
	// LeaderURL is the leader's HTTP base URL, such as
	// "http://10.0.0.2:8080"; empty when no leader is known.
	LeaderURL string
}

func (e *NotLeaderError) Error() string {
	if e.LeaderURL == "" {
		return e.Reason + "; no leader is known now, retry later"
	}
	return e.Reason + "; send this request to the leader at " + e.LeaderURL
}

func (e *NotLeaderError) Unwrap() error { return replication.ErrUnavailable }

// leaderWait bounds how long NotLeader waits to learn who leads before it
// answers without naming a leader.
const leaderWait = 3 * time.Second

// NotLeader returns a NotLeaderError naming the leader, waiting a little
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
			return &NotLeaderError{Reason: reason}
		case <-t.C:
		}
		url = s.LeaderURL()
	}
	return &NotLeaderError{Reason: reason, LeaderURL: url}
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
