package metadata

import (
	"context"
	"errors"
	"fmt"

	"github.com/dakkio/dakkio/cluster"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store"
)

// RemoveNode takes the node id out of the Raft configuration, for a node
// that is dead or has been stopped for good. A node still running is seen
// alive on gossip, and the leader's reconcile pass (cluster.ReconcilePlan)
// adds it back within a second or so.
//
// Only the leader changes the configuration. Any other node returns a
// *replication.NotLeaderError naming the leader's HTTP address, for the
// caller to retry there; a leader asked to remove itself first hands
// leadership to another voter and answers the same way, naming the new
// leader. An id not in the configuration is a store.ErrNotFound; the last
// voter cannot go (store.ErrConflict).
func (s *Service) RemoveNode(ctx context.Context, id string) error {
	if !s.cfg.Raft.IsLeader() {
		return s.NotLeader(ctx, "this node is not the Raft leader")
	}
	servers, err := s.cfg.Voters.Servers()
	if err != nil {
		return fmt.Errorf("%w: %w", replication.ErrUnavailable, err)
	}
	found, otherVoters := false, 0
	for _, v := range servers {
		found = found || v.ID == id
		if v.Voter && v.ID != s.cfg.Self {
			otherVoters++
		}
	}
	if !found {
		return &store.Error{Kind: store.ErrNotFound, Message: "Node not found"}
	}
	if id == s.cfg.Self {
		if otherVoters == 0 {
			return &store.Error{Kind: store.ErrConflict, Message: "Cannot remove the only voter of the cluster"}
		}
		if err := s.cfg.Voters.TransferLeadership(); err != nil {
			return fmt.Errorf("%w: cannot hand leadership over before removing %s: %w", replication.ErrUnavailable, id, err)
		}
		s.log.Info("handed leadership over to be removed")
		return s.NotLeader(ctx, "leadership moved away from "+id)
	}
	if s.cfg.Forget != nil {
		s.cfg.Forget(id)
	}
	if err := s.cfg.Voters.RemoveServer(id); err != nil {
		if errors.Is(err, cluster.ErrNotLeader) {
			return s.NotLeader(ctx, "this node lost the leadership")
		}
		return fmt.Errorf("%w: %w", replication.ErrUnavailable, err)
	}
	s.log.Info("removed node from raft", "removed", id)
	return nil
}
