package store

import (
	"bytes"
	"slices"
	"testing"
	"time"
)

// TestPlacementMoves: a move adds a pending replica that takes no reads
// until it caught up; then the leaving replica goes. A rename keeps the
// placement, and a snapshot carries all three lists.
func TestPlacementMoves(t *testing.T) {
	s := NewState(1 << 20)
	if err := s.ApplyCreateOrg(CreateOrg{Org: Org{ID: "o1", Name: "o"}, AdminKey: APIKey{ID: "k1", Hash: "h", OrganizationID: "o1", Type: KeyAdmin}}); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyCreateBucket(CreateBucket{Bucket: Bucket{ID: "b1", Name: "b", OrganizationID: "o1"}, Replicas: []string{"a", "b", "c"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyRebalance(Rebalance{Moves: []Move{{Bucket: "b1", Replicas: []string{"a", "b", "c"}, Pending: []string{"d"}, Leaving: []string{"c"}}}}); err != nil {
		t.Fatal(err)
	}
	name := "renamed"
	if _, err := s.ApplyUpdateBucket(UpdateBucket{OrgID: "o1", ID: "b1", Name: &name, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	p := s.BucketPlacement("b1")
	if !slices.Equal(p.Replicas, []string{"a", "b", "c"}) || !slices.Equal(p.Pending, []string{"d"}) || !slices.Equal(p.Leaving, []string{"c"}) {
		t.Fatalf("placement after the move and a rename: %+v", p)
	}

	// The snapshot carries the move in progress.
	restored := NewState(1 << 20)
	var buf bytes.Buffer
	if err := WriteSnapshot(&buf, s.Snapshot()); err != nil {
		t.Fatal(err)
	}
	if err := restored.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if got := restored.BucketPlacement("b1"); !slices.Equal(got.Pending, []string{"d"}) || !slices.Equal(got.Leaving, []string{"c"}) {
		t.Fatalf("restored placement %+v", got)
	}

	if err := s.ApplyReplicaCaughtUp(ReplicaCaughtUp{Bucket: "b1", Node: "d"}); err != nil {
		t.Fatal(err)
	}
	p = s.BucketPlacement("b1")
	if !slices.Equal(p.Replicas, []string{"a", "b", "d"}) || len(p.Pending) != 0 || len(p.Leaving) != 0 {
		t.Fatalf("placement after catching up: %+v", p)
	}
	// Said twice, or by a node that is not pending: nothing changes.
	_ = s.ApplyReplicaCaughtUp(ReplicaCaughtUp{Bucket: "b1", Node: "d"})
	_ = s.ApplyReplicaCaughtUp(ReplicaCaughtUp{Bucket: "b1", Node: "x"})
	if got := s.BucketPlacement("b1"); !slices.Equal(got.Replicas, p.Replicas) {
		t.Fatalf("placement changed by a repeated catch-up: %+v", got)
	}
}
