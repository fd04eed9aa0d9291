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
	// c's failure may come after the answer (a straggler past AckGrace),
	// and with it the hint.
	eventually(t, "a hint for c", func() bool { return slices.Equal(a.hints.Pending(), []string{"c"}) })
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
	count, err := via.repl.Count(ctx, points.Range{BucketID: testBucket, SourceIDs: []string{testSource}, Start: math.MinInt64, End: math.MaxInt64}, nil)
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

// TestReadNote: with no replica known to be in sync, a read answers what
// it has and says so in its note, or, when the note refuses partial
// answers, fails; without a note it answers the same, silently.
func TestReadNote(t *testing.T) {
	c := newFakeCluster("a", "b", "c", "d")
	net := newFakeNet(c)
	a, b, d := net.add(t, "a", Config{}, false), net.add(t, "b", Config{}, false), net.add(t, "d", Config{}, false)
	via := net.add(t, "c", Config{}, false)
	// Placed before its replicas saw it: none is in sync until repair ran.
	c.place(testBucket, "a", "b", "d")
	ctx := context.Background()
	for _, n := range []*fakeNode{a, b, d} {
		if err := n.db.Write(ctx, testBucket, testPoints(10, 0)); err != nil {
			t.Fatal(err)
		}
	}
	rg := points.Range{BucketID: testBucket, SourceIDs: []string{testSource}, Start: math.MinInt64, End: math.MaxInt64}
	for _, tc := range []struct {
		name        string
		note        *ReadNote
		wantPartial bool
		wantErr     error
	}{
		{name: "no note"},
		{name: "note", note: &ReadNote{}, wantPartial: true},
		{name: "refuses partial", note: &ReadNote{RefusePartial: true}, wantErr: ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			count, err := via.repl.Count(ctx, rg, tc.note)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %d, %v; want %v", count, err, tc.wantErr)
				}
				return
			}
			if err != nil || count != 10 {
				t.Fatalf("got %d, %v; want 10", count, err)
			}
			if tc.note != nil && (tc.note.Partial != tc.wantPartial || tc.wantPartial && tc.note.Reason == "") {
				t.Fatalf("note %+v, want partial %v with a reason", tc.note, tc.wantPartial)
			}
		})
	}
}
