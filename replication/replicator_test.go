package replication

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/dakkio/dakkio/store/points"
)

// TestWriteHintsAndReplays: with one of three replicas down, a write at
// quorum is acknowledged and the missed replica gets a hint, which is
// replayed once it is back; a write at all is refused, and hinted too.
func TestWriteHintsAndReplays(t *testing.T) {
	c := newFakeCluster("a", "b", "c")
	net := newFakeNet(c)
	cfg := Config{HintReplayInterval: 20 * time.Millisecond, RepairInterval: time.Hour, AckGrace: time.Millisecond}
	a := net.add(t, "a", cfg, true)
	b, down := net.add(t, "b", cfg, false), net.add(t, "c", cfg, false)
	c.place(testBucket, "a", "b", "c")
	c.setDown("c", true)
	ctx := context.Background()

	if err := a.repl.Write(ctx, testBucket, ConsistencyQuorum, testPoints(10, 0)); err != nil {
		t.Fatalf("write at quorum with one replica down: %v", err)
	}
	for _, n := range []*fakeNode{a, b} {
		if got := n.db.BucketPointCount(testBucket); got != 10 {
			t.Fatalf("replica %s holds %d points, want 10", n.id, got)
		}
	}
	if got := a.hints.Pending(); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("hints pending for %v, want [c]", got)
	}
	err := a.repl.Write(ctx, testBucket, ConsistencyAll, testPoints(5, 100))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("write at all with one replica down: %v, want ErrUnavailable", err)
	}
	if st := a.repl.Counters(); st.WritesAcked != 1 || st.WritesUnavailable != 1 {
		t.Fatalf("counters %+v, want 1 acknowledged, 1 unavailable", st)
	}

	a.repl.Start()
	c.setDown("c", false)
	eventually(t, "the hints reach c", func() bool { return down.db.BucketPointCount(testBucket) == 15 })
	eventually(t, "a's queue for c is empty", func() bool { return len(a.hints.Pending()) == 0 })
	if st := a.hints.Status(); len(st) != 1 || st[0].Replayed != 2 || st[0].Dropped != 0 {
		t.Fatalf("hint status %+v, want 2 replayed to c", st)
	}
}

// TestReadHedges: a read through a node that holds no copy asks the first
// replica and, when it has not answered after ReadHedge, the next one too;
// the first answer in sync wins.
func TestReadHedges(t *testing.T) {
	c := newFakeCluster("a", "b", "c")
	net := newFakeNet(c)
	cfg := Config{ReadHedge: 50 * time.Millisecond}
	a, b, via := net.add(t, "a", cfg, false), net.add(t, "b", cfg, false), net.add(t, "c", cfg, false)
	// Seen up before the bucket exists: born in sync on a and b.
	a.repl.repair.noteNewBuckets()
	b.repl.repair.noteNewBuckets()
	c.place(testBucket, "a", "b")
	ctx := context.Background()
	for _, n := range []*fakeNode{a, b} {
		if err := n.db.Write(ctx, testBucket, testPoints(10, 0)); err != nil {
			t.Fatal(err)
		}
	}
	a.slow = true

	start := time.Now()
	count, err := via.repl.Count(ctx, points.Range{BucketID: testBucket, SourceIDs: []string{testSource}, Start: math.MinInt64, End: math.MaxInt64})
	if err != nil {
		t.Fatal(err)
	}
	if count != 10 {
		t.Fatalf("count %d, want 10", count)
	}
	if d := time.Since(start); d < cfg.ReadHedge {
		t.Fatalf("answered after %s, before the hedge of %s", d, cfg.ReadHedge)
	}
	if net.readsOf("a") != 1 || net.readsOf("b") != 1 {
		t.Fatalf("reads of a %d, of b %d: want one each", net.readsOf("a"), net.readsOf("b"))
	}
	if st := via.repl.Counters(); st.ReadHedges != 1 || st.ReadFailovers != 0 || st.PartialReads != 0 {
		t.Fatalf("counters %+v, want one hedge", st)
	}
}

// TestRestoreNeedsEveryReplica: restored points go to every replica, and
// with one down the restore fails, to be retried, leaving no hint.
func TestRestoreNeedsEveryReplica(t *testing.T) {
	c := newFakeCluster("a", "b", "c")
	net := newFakeNet(c)
	a := net.add(t, "a", Config{}, true)
	b, other := net.add(t, "b", Config{}, false), net.add(t, "c", Config{}, false)
	c.place(testBucket, "a", "b", "c")
	ctx := context.Background()
	if err := a.repl.Restore(ctx, testBucket, testPoints(10, 0)); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*fakeNode{a, b, other} {
		if got := n.db.BucketPointCount(testBucket); got != 10 {
			t.Fatalf("replica %s holds %d points, want 10", n.id, got)
		}
	}
	c.setDown("c", true)
	if err := a.repl.Restore(ctx, testBucket, testPoints(5, 100)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("restore with a replica down: %v, want ErrUnavailable", err)
	}
	if got := a.hints.Pending(); len(got) != 0 {
		t.Fatalf("hints pending for %v after a restore, want none", got)
	}
}
