package store

import (
	"slices"
)

// A bucket's placement: Replicas hold its points and answer reads; Pending
// nodes are new replicas still copying the bucket from the others (they take
// writes, not reads); Leaving nodes are replicas the bucket is moving off,
// dropped once every pending node has caught up.

// Move is one bucket's new placement.
type Move struct {
	Bucket   string   `json:"bucket"`
	Replicas []string `json:"replicas"`
	Pending  []string `json:"pending,omitempty"`
	Leaving  []string `json:"leaving,omitempty"`
}

// Rebalance sets the placement of some buckets: after a node left, or when
// an operator spreads buckets over new nodes.
type Rebalance struct {
	Moves []Move `json:"moves"`
}

// ReplicaCaughtUp says a pending replica has copied its bucket: it now
// answers reads, and once no replica is pending the leaving ones go.
type ReplicaCaughtUp struct {
	Bucket string `json:"bucket"`
	Node   string `json:"node"`
}

// PlacementView is one bucket's placement.
type PlacementView struct {
	Replicas []string `json:"replicas"`
	Pending  []string `json:"pending,omitempty"`
	Leaving  []string `json:"leaving,omitempty"`
}

// Stores reports whether node keeps a copy of the bucket's points, as a
// replica or one catching up (pending).
func (p PlacementView) Stores(node string) bool {
	return slices.Contains(p.Replicas, node) || slices.Contains(p.Pending, node)
}

// ApplyRebalance applies a Rebalance command; moves of buckets that no
// longer exist are ignored.
func (s *State) ApplyRebalance(c Rebalance) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range c.Moves {
		if _, ok := s.data.buckets[m.Bucket]; !ok || len(m.Replicas)+len(m.Pending) == 0 {
			continue
		}
		s.data.placement[m.Bucket] = slices.Clone(m.Replicas)
		setOrDelete(s.data.pending, m.Bucket, m.Pending)
		setOrDelete(s.data.leaving, m.Bucket, m.Leaving)
	}
	return nil
}

// ApplyReplicaCaughtUp applies a ReplicaCaughtUp command. A node that is not
// pending (any more) changes nothing: the command may be sent twice.
func (s *State) ApplyReplicaCaughtUp(c ReplicaCaughtUp) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	pending := s.data.pending[c.Bucket]
	if !slices.Contains(pending, c.Node) {
		return nil
	}
	pending = slices.DeleteFunc(slices.Clone(pending), func(n string) bool { return n == c.Node })
	reps := append(slices.Clone(s.data.placement[c.Bucket]), c.Node)
	if len(pending) == 0 {
		leaving := s.data.leaving[c.Bucket]
		reps = slices.DeleteFunc(reps, func(n string) bool { return slices.Contains(leaving, n) })
		delete(s.data.leaving, c.Bucket)
	}
	s.data.placement[c.Bucket] = reps
	setOrDelete(s.data.pending, c.Bucket, pending)
	return nil
}

func setOrDelete(m map[string][]string, k string, v []string) {
	if len(v) == 0 {
		delete(m, k)
		return
	}
	m[k] = slices.Clone(v)
}

// BucketPlacement returns a bucket's placement (all empty when it has none).
func (s *State) BucketPlacement(id string) PlacementView {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.data.placementOf(id)
}

func (t *tables) placementOf(id string) PlacementView {
	return PlacementView{
		Replicas: slices.Clone(t.placement[id]),
		Pending:  slices.Clone(t.pending[id]),
		Leaving:  slices.Clone(t.leaving[id]),
	}
}

// Placements returns every placed bucket's placement.
func (s *State) Placements() map[string]PlacementView {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]PlacementView, len(s.data.placement))
	for b := range s.data.placement {
		out[b] = s.data.placementOf(b)
	}
	return out
}
