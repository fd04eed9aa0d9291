package replication

import (
	"context"
	"testing"
	"time"
)

// TestInSync: a replica is in sync only for buckets it knows (a node still
// replaying its log once answered a read for a bucket it had not applied
// yet, with no points at all: jepsen set × kill, seed 449641), and after a
// restart or a lost contact only once a repair pass has compared it with
// enough co-replicas.
func TestInSync(t *testing.T) {
	c := newFakeCluster("a", "b", "c")
	rp := newFakeNet(c).add(t, "a", Config{}, false).repl.repair
	if rp.inSync(testBucket) {
		t.Fatal("in sync for a bucket this node does not know")
	}
	c.place("b", "a", "b", "c")
	if rp.inSync("b") {
		t.Fatal("in sync right after a start, before any repair")
	}
	rp.mu.Lock()
	start := rp.epoch
	rp.synced["b"] = map[string]uint64{"c": start}
	rp.mu.Unlock()
	if !rp.inSync("b") {
		t.Fatal("not in sync after comparing with one of two co-replicas (3 replicas: quorum writes are on one of them)")
	}
	rp.mayHaveMissedWrites("test")
	if rp.inSync("b") {
		t.Fatal("in sync after losing contact, with only an older comparison")
	}

	// A bucket created while the node is up is in sync at once, until the
	// node may lose something.
	rp.noteNewBuckets() // scan after the loss: nothing new
	c.place("c", "a", "b", "c")
	rp.noteNewBuckets()
	if !rp.inSync("c") {
		t.Fatal("a bucket born while the node was up is not in sync")
	}
	if rp.inSync("b") {
		t.Fatal("a bucket that existed before the loss became in sync by a scan")
	}
	rp.mayHaveMissedWrites("test")
	if rp.inSync("c") {
		t.Fatal("in sync after a loss")
	}
}

// TestRepairCopiesMissingPoints: a replica that missed points gets them
// from a co-replica on its first pass, and counts as in sync after it
// (three replicas, one down: comparing with the other one is enough).
func TestRepairCopiesMissingPoints(t *testing.T) {
	c := newFakeCluster("a", "b", "c")
	c.setDown("c", true)
	net := newFakeNet(c)
	cfg := Config{RepairInterval: time.Hour}
	a, b := net.add(t, "a", cfg, false), net.add(t, "b", cfg, false)
	c.place(testBucket, "a", "b", "c")
	ctx := context.Background()
	if err := b.db.Write(ctx, testBucket, testPoints(50, 0)); err != nil {
		t.Fatal(err)
	}
	if err := a.db.Write(ctx, testBucket, testPoints(10, 0)); err != nil {
		t.Fatal(err)
	}
	if a.repl.InSync(testBucket) {
		t.Fatal("in sync before any repair, after a start")
	}
	a.repl.Start()
	eventually(t, "a holds b's 50 points", func() bool { return a.db.BucketPointCount(testBucket) == 50 })
	eventually(t, "a's pass ends", func() bool { return a.repl.RepairStatus().Passes > 0 })
	st := a.repl.RepairStatus()
	if st.PointsRepaired != 40 || st.BucketsBehind != 0 || st.LastError != "" {
		t.Fatalf("repair status %+v, want 40 points repaired, none behind", st)
	}
	if !a.repl.InSync(testBucket) {
		t.Fatal("not in sync after comparing with its one co-replica")
	}
}
