package points

import (
	"context"
	"testing"
	"time"
)

func openLingering(t *testing.T, linger time.Duration) *DB {
	t.Helper()
	db, err := Open(Config{
		Dir:       t.TempDir(),
		Retention: func(string) (time.Duration, bool) { return 30 * 24 * time.Hour, true },
		MaxLinger: linger,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func pointsAt(n int, from int64) []Point {
	pts := make([]Point, n)
	for i := range pts {
		pts[i] = Point{SourceID: srcA, TS: from + int64(i)*int64(time.Second), Values: []Value{num("v", float64(i))}}
	}
	return pts
}

// writeAsync writes pts in the background and returns where its result
// arrives.
func writeAsync(db *DB, pts []Point) <-chan error {
	done := make(chan error, 1)
	go func() { done <- db.Write(context.Background(), testBucket, pts) }()
	return done
}

// awaitWrite waits for a write's result, failing the test after a deadline
// far below the linger under test (a minute) and far above a commit.
func awaitWrite(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no answer after 20 s", what)
	}
}

// TestAnnouncedWriteJoinsTheGroup: with a write announced, the writer holds
// the group it has until that write arrives, and commits both at once.
func TestAnnouncedWriteJoinsTheGroup(t *testing.T) {
	db := openLingering(t, time.Minute)
	base := time.Now().Add(-time.Hour).UnixNano()
	withdraw := db.Announce()
	first := writeAsync(db, pointsAt(10, base))
	// The writer takes the first write and waits; nothing is committed yet.
	deadline := time.Now().Add(10 * time.Second)
	for db.WriterStats().Lingers == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polling the counter, with a deadline
	}
	if s := db.WriterStats(); s.Lingers != 1 || s.Commits != 0 {
		t.Fatalf("writer stats %+v while a write was announced, want 1 linger and no commit", s)
	}
	withdraw()
	second := writeAsync(db, pointsAt(10, base+int64(time.Minute)))
	awaitWrite(t, first, "first write")
	awaitWrite(t, second, "second write")
	if s := db.WriterStats(); s.Commits != 1 || s.Points != 20 {
		t.Fatalf("writer stats %+v, want both writes in 1 commit of 20 points", s)
	}
	if got := db.SourcePointCount(testBucket, srcA); got != 20 {
		t.Fatalf("count %d, want 20", got)
	}
}

// TestUnannouncedWriteDoesNotWait: a write with nothing announced commits
// at once, whatever the linger; and a write announced and then given up
// holds the group no longer than the linger.
func TestUnannouncedWriteDoesNotWait(t *testing.T) {
	db := openLingering(t, time.Minute)
	base := time.Now().Add(-time.Hour).UnixNano()
	awaitWrite(t, writeAsync(db, pointsAt(10, base)), "lone write")

	short := openLingering(t, 50*time.Millisecond)
	withdraw := short.Announce()
	done := writeAsync(short, pointsAt(10, base))
	awaitWrite(t, done, "write while another, never sent, is announced")
	withdraw()
	withdraw() // a second withdrawal changes nothing
	if got := short.coming.Load(); got != 0 {
		t.Fatalf("%d writes still announced, want 0", got)
	}
}
