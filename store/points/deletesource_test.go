package points

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"time"
)

// TestDeleteSource: one source's points and rollups go, the other's stay,
// and the counts hold after a reopen.
func TestDeleteSource(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	db := openTest(t, dir, &now)
	base := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC).UnixNano()
	var pts []Point
	for i := range 300 {
		src := srcA
		if i%3 == 0 {
			src = srcB
		}
		pts = append(pts, Point{SourceID: src, TS: base + int64(i)*int64(time.Minute), Values: []Value{num("t", float64(i))}})
	}
	if err := db.Write(ctx, testBucket, pts); err != nil {
		t.Fatal(err)
	}
	if got := db.DeleteSource(testBucket, srcA); got != 200 {
		t.Fatalf("DeleteSource = %d, want 200", got)
	}
	if got := db.DeleteSource(testBucket, srcA); got != 0 {
		t.Fatalf("DeleteSource again = %d, want 0", got)
	}
	all := Range{BucketID: testBucket, Start: math.MinInt64, End: math.MaxInt64}
	check := func(db *DB) {
		t.Helper()
		if n := db.BucketPointCount(testBucket); n != 100 {
			t.Fatalf("bucket count = %d, want 100", n)
		}
		if n, _ := db.Count(ctx, Range{BucketID: testBucket, SourceIDs: []string{srcA}, Start: all.Start, End: all.End}); n != 0 {
			t.Fatalf("deleted source still counts %d", n)
		}
		both := all
		both.SourceIDs = []string{srcA, srcB}
		rows, err := db.Aggregate(ctx, AggQuery{Range: both, Aggregation: AggCount, Window: WindowHour})
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, r := range rows {
			if r.SourceID == srcA {
				t.Fatalf("a rollup row of the deleted source: %+v", r)
			}
			total += r.Count
		}
		if total != 100 {
			t.Fatalf("rolled-up count = %d, want 100", total)
		}
		if _, ok := db.LastPointTime(testBucket, srcA); ok {
			t.Fatal("the deleted source has a last point")
		}
	}
	checkReopened(t, db, dir, &now, check)
}

// TestWritesAfterDeleteSource: writes that reach the writer after their
// source was deleted (validated before the delete, as a client's can be,
// or a hinted copy arriving late) store nothing of that source, and the
// bucket's count stays the sum of its sources', reopened too. Without the
// writer's check they stored points under the deleted source.
func TestWritesAfterDeleteSource(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	var goneA atomic.Bool // the metadata's record of srcA's delete
	db, err := Open(Config{
		Dir:           dir,
		Retention:     func(string) (time.Duration, bool) { return 30 * 24 * time.Hour, true },
		Now:           func() time.Time { return now },
		SourceDeleted: func(id string) bool { return id == srcA && goneA.Load() },
	})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC).UnixNano()

	const writers, batches, perBatch = 4, 40, 10
	deleted := make(chan struct{})
	halfway := make(chan struct{}, writers)
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for b := range batches {
				if b == batches/2 {
					halfway <- struct{}{}
					<-deleted
				}
				var pts []Point
				for i := range perBatch {
					ts := base + int64(((w*batches+b)*perBatch+i))*int64(time.Second)
					pts = append(pts,
						Point{SourceID: srcA, TS: ts, Values: []Value{num("t", 1)}},
						Point{SourceID: srcB, TS: ts, Values: []Value{num("t", 2)}})
				}
				if err := db.Write(ctx, testBucket, pts); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		<-halfway
	}
	// As the metadata applies a delete: marked first, then the points go.
	goneA.Store(true)
	if got := db.DeleteSource(testBucket, srcA); got != writers*batches/2*perBatch {
		t.Fatalf("DeleteSource = %d, want the %d points written before it", got, writers*batches/2*perBatch)
	}
	close(deleted)
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	all := Range{BucketID: testBucket, Start: math.MinInt64, End: math.MaxInt64}
	check := func(db *DB) {
		t.Helper()
		const wantB = writers * batches * perBatch
		a, err := db.Count(ctx, Range{BucketID: testBucket, SourceIDs: []string{srcA}, Start: all.Start, End: all.End})
		if err != nil {
			t.Fatal(err)
		}
		b, err := db.Count(ctx, Range{BucketID: testBucket, SourceIDs: []string{srcB}, Start: all.Start, End: all.End})
		if err != nil {
			t.Fatal(err)
		}
		if a != 0 || b != wantB {
			t.Fatalf("counts: deleted source %d, other %d; want 0 and %d", a, b, wantB)
		}
		if n := db.BucketPointCount(testBucket); n != b {
			t.Fatalf("bucket count = %d, want the other source's %d", n, b)
		}
		if _, ok := db.LastPointTime(testBucket, srcA); ok {
			t.Fatal("the deleted source has a last point")
		}
	}
	checkReopened(t, db, dir, &now, check)
}

// checkReopened runs check on db, then on the store reopened from dir.
func checkReopened(t *testing.T, db *DB, dir string, now *time.Time, check func(*DB)) {
	t.Helper()
	check(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir, now)
	defer db.Close()
	check(db)
}
