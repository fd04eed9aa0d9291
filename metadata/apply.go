package metadata

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/dakkio/dakkio/cluster"
	"github.com/dakkio/dakkio/internal/peerrpc"
	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// Apply commits a metadata command: through the local Raft when this node
// leads, else by forwarding it to the leader. When the cluster cannot
// commit now, the error wraps replication.ErrUnavailable.
func (s *Service) Apply(ctx context.Context, cmd any) (any, error) {
	deleting := s.countDeleting(ctx, cmd)
	ruleBucket := s.ruleBucket(cmd)
	// The leader places new buckets; a follower forwards, and so does a
	// leader that lost its leadership in between.
	v, index, err := s.cfg.Raft.ApplyIndexed(ctx, s.cfg.Place(cmd))
	if err == nil && withdraws(cmd) {
		s.settle(ctx, index, time.Now())
	}
	if errors.Is(err, cluster.ErrNotLeader) && s.cfg.Cluster.Clustered() {
		v, index, err = s.forward(ctx, cmd) // the leader settles it
	}
	if err == nil && ruleBucket != "" {
		s.spreadRuleChange(ctx, ruleBucket, index)
	}
	if d, ok := v.(store.DeletedBucket); ok && err == nil && deleting >= 0 {
		d.DataPoints = deleting
		v = d
	}
	if d, ok := v.(store.DeletedSource); ok && err == nil && deleting >= 0 {
		d.DataPoints = deleting
		v = d
	}
	if err == nil {
		s.cfg.Applied(cmd)
	}
	var se *store.Error
	if err != nil && !errors.As(err, &se) {
		return nil, fmt.Errorf("%w: %w", replication.ErrUnavailable, err)
	}
	return v, err
}

// countDeleting counts the points a bucket or source delete removes, -1
// when unknown (then the leader's own count stands). They live on the
// bucket's replicas, which the leader need not be one of: count them
// here, before they go.
func (s *Service) countDeleting(ctx context.Context, cmd any) int64 {
	if s.cfg.Points == nil || !s.cfg.Cluster.Clustered() {
		return -1
	}
	switch d := cmd.(type) {
	case store.DeleteBucket:
		count, err := s.cfg.Points.BucketPointCount(ctx, d.ID)
		if err != nil {
			s.log.Warn("cannot count a bucket's points before deleting it", "bucket", d.ID, "err", err)
			return -1
		}
		return count
	case store.DeleteSource:
		count, err := s.cfg.Points.Count(ctx, points.Range{BucketID: d.BucketID, SourceIDs: []string{d.ID}, Start: math.MinInt64, End: math.MaxInt64}, nil)
		if err != nil {
			s.log.Warn("cannot count a data source's points before deleting it", "bucket", d.BucketID, "source", d.ID, "err", err)
			return -1
		}
		return count
	}
	return -1
}

// forward sends cmd to the leader and returns what applying it there
// produced.
func (s *Service) forward(ctx context.Context, cmd any) (any, uint64, error) {
	body, err := cluster.EncodeForward(cmd)
	if err != nil {
		return nil, 0, err
	}
	leader := s.cfg.Raft.Status().LeaderID
	if leader == "" {
		return nil, 0, fmt.Errorf("cannot forward to the leader: %w", cluster.ErrNoLeader)
	}
	out, index, err := s.cfg.Peers.Apply(ctx, leader, body)
	if errors.Is(err, peerrpc.ErrNotAlive) {
		return nil, 0, fmt.Errorf("cannot forward to the leader: %w", cluster.ErrNoLeader)
	}
	if err != nil {
		return nil, 0, err
	}
	v, err := cluster.DecodeResult(cmd, out)
	// Read your writes: answer only once this node has applied the entry,
	// so the caller's next request here sees what it just changed.
	if index > 0 {
		if werr := s.cfg.Raft.WaitApplied(ctx, index); werr != nil {
			return nil, 0, werr
		}
	}
	return v, index, err
}

// ruleChangeWait bounds how long a rule change waits for the bucket's
// replicas to apply it.
const ruleChangeWait = 2 * time.Second

// ruleBucket returns the bucket of an alert rule that cmd creates, changes
// or deletes, and "" for any other command.
func (s *Service) ruleBucket(cmd any) string {
	if !s.cfg.Cluster.Clustered() {
		return ""
	}
	var id string
	switch c := cmd.(type) {
	case store.CreateAlert:
		return c.Rule.BucketID
	case store.UpdateAlert:
		id = c.ID
	case store.DeleteAlert:
		id = c.ID
	default:
		return ""
	}
	r, _ := s.cfg.State.AlertByID(id)
	return r.BucketID
}

// spreadRuleChange returns once the bucket's live replicas have applied
// the rule change at index, or after ruleChangeWait. Whichever replica
// evaluates the bucket's points judges them by its own copy of the rules,
// and a follower hears of a commit only with the leader's next message: so
// that a point written after the change is acknowledged meets the rule as
// changed, the change is acknowledged only once they have it. A replica cut
// off from the leader cannot be waited for; it is logged, not failed, since
// the change is committed.
func (s *Service) spreadRuleChange(ctx context.Context, bucketID string, index uint64) {
	if index == 0 {
		return
	}
	p := s.cfg.State.BucketPlacement(bucketID)
	for id, err := range s.awaitApplied(ctx, slices.Concat(p.Replicas, p.Pending), index, ruleChangeWait) {
		if !errors.Is(err, peerrpc.ErrNotAlive) {
			s.log.Warn("a replica has not applied an alert rule change yet; it evaluates by its old rules until it does",
				"bucket", bucketID, "replica", id, "index", index, "err", err)
		}
	}
}

// ServeApply is the handler of peerrpc.PathApply: it applies a command a
// follower forwarded. It never forwards again: a node that lost leadership
// answers 503 and the follower retries with the new leader.
func (s *Service) ServeApply(ctx context.Context, body []byte) peerrpc.Answer {
	cmd, err := cluster.DecodeForward(body)
	if err != nil {
		return peerrpc.Answer{Status: http.StatusBadRequest, Body: []byte(err.Error())}
	}
	v, index, err := s.cfg.Raft.ApplyIndexed(ctx, s.cfg.Place(cmd))
	var se *store.Error
	if err != nil && !errors.As(err, &se) {
		return peerrpc.Answer{Status: http.StatusServiceUnavailable, Body: []byte(err.Error())}
	}
	if err == nil && withdraws(cmd) {
		s.settle(ctx, index, time.Now())
	}
	if err == nil {
		s.cfg.Applied(cmd)
	}
	out, err := cluster.EncodeResult(cmd, v, err)
	if err != nil {
		return peerrpc.Answer{Status: http.StatusInternalServerError, Body: []byte(err.Error())}
	}
	return peerrpc.Answer{Status: http.StatusOK, Index: index, Body: out}
}
