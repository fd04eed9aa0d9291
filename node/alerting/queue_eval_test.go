package alerting

import (
	"context"
	"testing"
	"time"

	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// eventually polls cond until it holds or a deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

// stored counts the source's points in the env's store.
func stored(t *testing.T, e *env, source string) int64 {
	t.Helper()
	n, err := e.pts.Count(context.Background(), points.Range{BucketID: e.bucket, SourceIDs: []string{source}, Start: 0, End: t0.Add(time.Hour).UnixNano()})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestQueueEvaluatesAfterTheWrite: a live write is stored at once and its
// rule fires from the queue once evaluation runs, not before; a held
// queue keeps it queued.
func TestQueueEvaluatesAfterTheWrite(t *testing.T) {
	e := newEnv(t)
	r := e.rule("temperature exceeds 30")
	q := NewQueue(QueueConfig{NodeID: "n1", Engine: e.eng, Local: e.pts})
	release := q.Hold()
	q.Start()
	t.Cleanup(q.Close)
	p := temp(t0, 35)
	p.SourceID = e.source
	if err := q.WriteLive(context.Background(), e.bucket, []points.Point{p}); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := q.Lag(); n != 1 {
		t.Fatalf("%d writes queued, want 1", n)
	}
	e.wantEvents(r.ID, 0)
	release()
	eventually(t, "the queued write evaluated", func() bool { return q.Counters().Evaluated == 1 })
	e.wantEvents(r.ID, 1)
	if n, _, _ := q.Lag(); n != 0 {
		t.Fatalf("%d writes still queued, want 0", n)
	}
}

// TestQueueFullStoresWithoutEvaluating: once the queue holds MaxBytes, a
// write is stored and acknowledged, not queued, and counted.
func TestQueueFullStoresWithoutEvaluating(t *testing.T) {
	e := newEnv(t)
	e.rule("temperature exceeds 30")
	q := NewQueue(QueueConfig{NodeID: "n1", Engine: e.eng, Local: e.pts, MaxBytes: 1})
	for i := range 2 {
		p := temp(t0.Add(time.Duration(i)*time.Second), 35)
		p.SourceID = e.source
		if err := q.WriteLive(context.Background(), e.bucket, []points.Point{p}); err != nil {
			t.Fatal(err)
		}
	}
	if c := q.Counters(); c.Dropped != 1 {
		t.Fatalf("counters %+v, want one dropped", c)
	}
	if n, _, _ := q.Lag(); n != 1 {
		t.Fatalf("%d writes queued, want 1", n)
	}
	if n := stored(t, e, e.source); n != 2 {
		t.Fatalf("%d points stored, want 2", n)
	}
}

// TestQueueDropsPointsOfDeletedSources: a hint or repair copy arriving
// after its source was deleted must not bring it back.
func TestQueueDropsPointsOfDeletedSources(t *testing.T) {
	e := newEnv(t)
	gone := e.newSource("gone")
	e.must(store.DeleteSource{OrgID: e.orgID, BucketID: e.bucket, ID: gone})
	q := NewQueue(QueueConfig{NodeID: "n1", Engine: e.eng, Local: e.pts})
	kept, dropped := temp(t0, 1), temp(t0, 2)
	kept.SourceID, dropped.SourceID = e.source, gone
	for name, write := range map[string]func(context.Context, string, []points.Point) error{"live": q.WriteLive, "history": q.WriteHistory} {
		if err := write(context.Background(), e.bucket, []points.Point{kept, dropped}); err != nil {
			t.Fatal(err)
		}
		if n := stored(t, e, gone); n != 0 {
			t.Fatalf("%s: %d points of the deleted source stored, want 0", name, n)
		}
		if n := stored(t, e, e.source); n != 1 {
			t.Fatalf("%s: %d points of the live source stored, want 1", name, n)
		}
	}
}
